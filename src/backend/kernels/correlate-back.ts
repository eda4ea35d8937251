import * as tf from '@tensorflow/tfjs';
import type { ConvGeometry } from './geometry';
import type { FastBackend } from './matmul-forms';
import { windowNHWC } from './window';

export type ExplicitPads = [[number, number], [number, number], [number, number], [number, number]];

/**
 * The input gradient of a convolution, given the output gradient already zero-interleaved to the stride
 * (`spread`, [n, outH*sh, outW*sw, c]): dx[i] = sum_k spread[i + padBefore - k] * w[k], which is a stride-1
 * forward correlation of `spread` with the spatially flipped filter, padded by filter-1-padBefore before and
 * by whatever makes the output exactly the input size after. `correlate` runs that forward convolution
 * (conv2d or depthwiseConv2d, with the flipped filter bound); negative pads, which only unusually large
 * explicit pads produce, become a crop of its output.
 */
export function correlateBack(
  spread: tf.Tensor4D,
  g: ConvGeometry,
  backend: FastBackend,
  correlate: (x: tf.Tensor4D, pads: ExplicitPads) => tf.Tensor4D,
): tf.Tensor4D {
  const [, spreadH, spreadW] = spread.shape;
  const top = g.filterHeight - 1 - g.padTop;
  const bottom = g.inHeight - spreadH + g.padTop;
  const left = g.filterWidth - 1 - g.padLeft;
  const right = g.inWidth - spreadW + g.padLeft;
  const padTop = Math.max(top, 0);
  const padLeft = Math.max(left, 0);
  return tf.tidy(() => {
    const full = correlate(spread, [
      [0, 0],
      [padTop, Math.max(bottom, 0)],
      [padLeft, Math.max(right, 0)],
      [0, 0],
    ]);
    return windowNHWC(
      full,
      { offset: padTop - top, stride: 1, size: g.inHeight },
      { offset: padLeft - left, stride: 1, size: g.inWidth },
      backend === 'wasm',
    );
  });
}
