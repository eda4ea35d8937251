import * as tf from '@tensorflow/tfjs';
import { explicitPads, type ConvGeometry } from './geometry';
import { matMulAtB, type FastBackend } from './matmul-forms';
import { windowNHWC } from './window';

/**
 * A [kh, kw, channels, kh*kw] depthwise filter whose output channel c*kh*kw + t copies input channel c at
 * tap t = i*kw + j: a depthwise convolution with it is im2col, written in one XNNPACK call on wasm.
 */
function im2colFilter(kh: number, kw: number, channels: number): tf.Tensor4D {
  const taps = kh * kw;
  const values = new Float32Array(taps * channels * taps);
  for (let t = 0; t < taps; t++) {
    for (let c = 0; c < channels; c++) values[(t * channels + c) * taps + t] = 1;
  }
  return tf.tensor4d(values, [kh, kw, channels, taps]);
}

/**
 * dW[i, j, ci, co] = sum over n, oh, ow of xPadded[n, oh*sh + i, ow*sw + j, ci] * dy[n, oh, ow, co].
 * The patches ("cols", [n*outH*outW, ci*kh*kw]) come from one depthwise convolution by a one-hot filter
 * (for 1x1 filters: x itself, or a strided window of it), then one GEMM cols^T x dy.
 */
export function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, g: ConvGeometry, backend: FastBackend): tf.Tensor4D {
  const taps = g.filterHeight * g.filterWidth;
  const rows = g.batch * g.outHeight * g.outWidth;
  return tf.tidy((): tf.Tensor4D => {
    const cols =
      taps === 1
        ? windowNHWC(
            x,
            { offset: -g.padTop, stride: g.strideHeight, size: g.outHeight },
            { offset: -g.padLeft, stride: g.strideWidth, size: g.outWidth },
            backend === 'wasm',
          )
        : tf.depthwiseConv2d(x, im2colFilter(g.filterHeight, g.filterWidth, g.inChannels), [g.strideHeight, g.strideWidth], explicitPads(g));
    const product = matMulAtB(cols.reshape([rows, g.inChannels * taps]), dy.reshape([rows, g.outChannels]), backend);
    if (taps === 1) return product.reshape([1, 1, g.inChannels, g.outChannels]);
    // product rows are ordered (ci, i, j).
    return tf.transpose(product.reshape([g.inChannels, g.filterHeight, g.filterWidth, g.outChannels]), [1, 2, 0, 3]) as tf.Tensor4D;
  });
}
