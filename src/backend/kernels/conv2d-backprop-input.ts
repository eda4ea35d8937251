import * as tf from '@tensorflow/tfjs';
import { correlateBack } from './correlate-back';
import type { ConvGeometry } from './geometry';
import { matMulABt, type FastBackend } from './matmul-forms';
import { windowNHWC } from './window';
import { zeroInterleave } from './zero-interleave';

/**
 * dx[n, ih, iw, ci] = sum over taps and output positions with oh*sh + i - padTop = ih (same for w)
 * of dy[n, oh, ow, co] * W[i, j, ci, co].
 * 1x1 filters: one GEMM dy x W^T at output resolution, then spread back to the strided positions.
 * Larger filters: dy spread to input resolution, then one forward conv2d with the flipped, in/out-swapped
 * filter (stride 1), which is XNNPACK on wasm.
 */
export function conv2dInputGrad(dy: tf.Tensor4D, filter: tf.Tensor4D, g: ConvGeometry, backend: FastBackend): tf.Tensor4D {
  return tf.tidy((): tf.Tensor4D => {
    if (g.filterHeight === 1 && g.filterWidth === 1) {
      const rows = g.batch * g.outHeight * g.outWidth;
      const atOutput = matMulABt(
        dy.reshape([rows, g.outChannels]),
        filter.reshape([g.inChannels, g.outChannels]),
        backend,
      ).reshape([g.batch, g.outHeight, g.outWidth, g.inChannels]) as tf.Tensor4D;
      const spread = zeroInterleave(atOutput, g.strideHeight, g.strideWidth);
      return windowNHWC(
        spread,
        { offset: g.padTop, stride: 1, size: g.inHeight },
        { offset: g.padLeft, stride: 1, size: g.inWidth },
        backend === 'wasm',
      );
    }
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    const spread = zeroInterleave(dy, g.strideHeight, g.strideWidth);
    return correlateBack(spread, g, backend, (x, pads) => tf.conv2d(x, flipped, 1, pads));
  });
}
