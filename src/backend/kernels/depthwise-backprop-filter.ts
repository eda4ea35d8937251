import * as tf from '@tensorflow/tfjs';
import type { ConvGeometry } from './geometry';
import { sumRows, type FastBackend } from './matmul-forms';
import { windowNHWC } from './window';

/**
 * dW[i, j, c, 0] = sum over n, oh, ow of xPadded[n, oh*sh + i, ow*sw + j, c] * dy[n, oh, ow, c]
 * (channel multiplier 1). Per tap: the strided window of x (a one-hot depthwise convolution), times dy,
 * summed over rows by a [1, rows] x [rows, c] product. Each tap is its own scope, so the peak extra memory
 * is two tensors of dy's size, whatever the filter size.
 */
export function depthwiseFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, g: ConvGeometry, backend: FastBackend): tf.Tensor4D {
  const rows = g.batch * g.outHeight * g.outWidth;
  const channels = g.inChannels;
  return tf.tidy(() => {
    const perTap: tf.Tensor2D[] = [];
    for (let i = 0; i < g.filterHeight; i++) {
      for (let j = 0; j < g.filterWidth; j++) {
        perTap.push(
          tf.tidy(() => {
            const tap = windowNHWC(
              x,
              { offset: i - g.padTop, stride: g.strideHeight, size: g.outHeight },
              { offset: j - g.padLeft, stride: g.strideWidth, size: g.outWidth },
              backend === 'wasm',
            );
            return sumRows(tf.mul(tap, dy).reshape([rows, channels]) as tf.Tensor2D);
          }),
        );
      }
    }
    return tf.concat(perTap, 0).reshape([g.filterHeight, g.filterWidth, channels, 1]);
  });
}
