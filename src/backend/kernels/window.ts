import * as tf from '@tensorflow/tfjs';

/**
 * A strided, shifted, cropped or zero-extended view of one spatial axis: out[o] = x[o * stride + offset]
 * for o in [0, size), and 0 where that index falls outside x.
 */
export interface AxisWindow {
  offset: number;
  stride: number;
  size: number;
}

interface AxisConv {
  kernel: number;
  tap: number;
  before: number;
  after: number;
}

/**
 * The 1-D convolution that realises a window with a kernel of length `kernel`: one-hot at `tap`, explicit
 * zero padding `before`/`after`, the window's stride, and output size exactly `size`:
 * (length + before + after - kernel) / stride = size - 1. Undefined if the kernel is too short for that.
 */
function axisConv(length: number, w: AxisWindow, kernel: number): AxisConv | undefined {
  if (w.size < 1 || w.stride < 1) throw new Error(`invalid window ${JSON.stringify(w)}`);
  const before = Math.max(0, -w.offset);
  const tap = w.offset + before;
  const after = (w.size - 1) * w.stride - (length + before - kernel);
  if (kernel < tap + 1 || after < 0) return undefined;
  return { kernel, tap, before, after };
}

/** The shortest kernel that realises the window. */
function minimalKernel(length: number, w: AxisWindow): number {
  const before = Math.max(0, -w.offset);
  const tap = w.offset + before;
  return Math.max(tap + 1, length + before - (w.size - 1) * w.stride);
}

/**
 * Kernel shapes XNNPACK (wasm) runs at memory speed, cheapest first. Measured on a [32,7,7,960] input:
 * 3x1, 1x3, 2x2 and 3x3 take 0.2-2.6 ms, while 1x2, 2x1, 2x3 and 4x4 take 10-50 ms (no specialised
 * micro-kernel), and 1x1 with stride 2 takes 6 ms.
 */
const XNNPACK_FRIENDLY: Array<[number, number]> = [
  [1, 3],
  [3, 1],
  [2, 2],
  [3, 3],
  [5, 5],
];

function chooseKernel(height: number, width: number, h: AxisWindow, w: AxisWindow, xnnpack: boolean): [number, number] {
  const minH = minimalKernel(height, h);
  const minW = minimalKernel(width, w);
  if (!xnnpack || (minH === 1 && minW === 1 && h.stride === 1 && w.stride === 1)) return [minH, minW];
  for (const [kh, kw] of XNNPACK_FRIENDLY) {
    if (kh >= minH && kw >= minW && axisConv(height, h, kh) && axisConv(width, w, kw)) return [kh, kw];
  }
  return [minH, minW];
}

export function isIdentityWindow(length: number, w: AxisWindow): boolean {
  return w.offset === 0 && w.stride === 1 && w.size === length;
}

/** A [kh, kw, channels, 1] depthwise filter that is 1 at (tapH, tapW) for every channel and 0 elsewhere. */
export function oneHotDepthwiseFilter(kh: number, kw: number, tapH: number, tapW: number, channels: number): tf.Tensor4D {
  const values = new Float32Array(kh * kw * channels);
  values.fill(1, (tapH * kw + tapW) * channels, (tapH * kw + tapW + 1) * channels);
  return tf.tensor4d(values, [kh, kw, channels, 1]);
}

/**
 * Applies a window to the two spatial axes of an NHWC tensor with one depthwise convolution by a one-hot
 * filter. Slicing (strided or not) is a slow element-by-element path on both the wasm and the cpu backend,
 * while a depthwise convolution is XNNPACK on wasm and a tight loop on cpu. On cpu the kernel is as short
 * as possible (its cost is proportional to its size); on wasm it is a shape XNNPACK has a fast path for.
 * Returns x itself when both windows are the identity: the caller must not hand that back as a kernel output.
 */
export function windowNHWC(x: tf.Tensor4D, h: AxisWindow, w: AxisWindow, xnnpack: boolean): tf.Tensor4D {
  const [, height, width, channels] = x.shape;
  if (isIdentityWindow(height, h) && isIdentityWindow(width, w)) return x;
  const [kh, kw] = chooseKernel(height, width, h, w, xnnpack);
  const ch = axisConv(height, h, kh);
  const cw = axisConv(width, w, kw);
  if (ch == null || cw == null) throw new Error('internal error: window kernel too short');
  return tf.tidy(() => {
    const filter = oneHotDepthwiseFilter(ch.kernel, cw.kernel, ch.tap, cw.tap, channels);
    return tf.depthwiseConv2d(x, filter, [h.stride, w.stride], [
      [0, 0],
      [ch.before, ch.after],
      [cw.before, cw.after],
      [0, 0],
    ]);
  });
}
