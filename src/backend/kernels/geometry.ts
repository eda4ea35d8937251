import * as tf from '@tensorflow/tfjs';

export type PadAttr = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
export type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;

/** The forward convolution a gradient kernel belongs to, in NHWC terms, with its padding resolved to numbers. */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
}

type Shape4 = [number, number, number, number];

export function asShape4(shape: readonly number[], what: string): Shape4 {
  if (shape.length !== 4) throw new Error(`${what} must have rank 4, got shape [${shape.join(', ')}]`);
  return [shape[0], shape[1], shape[2], shape[3]];
}

/** NCHW explicit padding lists the spatial pads at positions 2 and 3; NHWC at 1 and 2. */
export function padToNHWC(pad: PadAttr, dataFormat: 'NHWC' | 'NCHW' | undefined): PadAttr {
  if (!Array.isArray(pad) || dataFormat !== 'NCHW') return pad;
  return [[0, 0], pad[2], pad[3], [0, 0]];
}

/**
 * Resolves the forward convolution's geometry with tfjs' own rules (the same call the stock kernels make),
 * so that 'same', 'valid', numeric and explicit pads mean exactly what they mean to the forward op.
 */
export function convGeometry(
  inShapeNHWC: readonly number[],
  filterShape: readonly number[],
  strides: number | [number, number],
  pad: PadAttr,
  dimRoundingMode: RoundingMode,
  depthwise: boolean,
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    asShape4(inShapeNHWC, 'input'),
    asShape4(filterShape, 'filter'),
    strides,
    1,
    pad,
    dimRoundingMode,
    depthwise,
    'channelsLast',
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padBottom: info.padInfo.bottom,
    padLeft: info.padInfo.left,
    padRight: info.padInfo.right,
  };
}

/** Explicit NHWC padding equal to the geometry's resolved pads. */
export function explicitPads(g: ConvGeometry): [[number, number], [number, number], [number, number], [number, number]] {
  return [
    [0, 0],
    [g.padTop, g.padBottom],
    [g.padLeft, g.padRight],
    [0, 0],
  ];
}

/**
 * True when a stride-s convolution with the resolved explicit pads produces the geometry's output size
 * (it does for 'same', 'valid' and explicit pads; a numeric pad with a rounding mode may not).
 */
export function explicitPadsReproduceOutput(g: ConvGeometry): boolean {
  const h = Math.floor((g.inHeight + g.padTop + g.padBottom - g.filterHeight) / g.strideHeight) + 1;
  const w = Math.floor((g.inWidth + g.padLeft + g.padRight - g.filterWidth) / g.strideWidth) + 1;
  return h === g.outHeight && w === g.outWidth && g.padTop >= 0 && g.padBottom >= 0 && g.padLeft >= 0 && g.padRight >= 0;
}

export function dilationsAreOne(dilations: number | [number, number] | undefined | null): boolean {
  if (dilations == null) return true;
  return Array.isArray(dilations) ? dilations[0] === 1 && dilations[1] === 1 : dilations === 1;
}
