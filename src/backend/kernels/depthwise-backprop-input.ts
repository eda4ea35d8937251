import * as tf from '@tensorflow/tfjs';
import { correlateBack } from './correlate-back';
import type { ConvGeometry } from './geometry';
import type { FastBackend } from './matmul-forms';
import { zeroInterleave } from './zero-interleave';

/**
 * dx = dy spread to input resolution, correlated (stride 1) with the spatially flipped depthwise filter:
 * one XNNPACK depthwise convolution on wasm (channel multiplier 1).
 */
export function depthwiseInputGrad(dy: tf.Tensor4D, filter: tf.Tensor4D, g: ConvGeometry, backend: FastBackend): tf.Tensor4D {
  return tf.tidy(() => {
    const flipped = tf.reverse(filter, [0, 1]) as tf.Tensor4D;
    const spread = zeroInterleave(dy, g.strideHeight, g.strideWidth);
    return correlateBack(spread, g, backend, (x, pads) => tf.depthwiseConv2d(x, flipped, 1, pads));
  });
}
