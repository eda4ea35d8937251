import * as tf from '@tensorflow/tfjs';

/**
 * Spreads an NHWC tensor onto a grid `strideH` x `strideW` times finer: out[n, i*sh, j*sw, c] = t[n, i, j, c],
 * zeros elsewhere; the result is [n, h*sh, w*sw, c]. This is how a strided convolution's output gradient is
 * brought back to input resolution. Written as reshapes around rank-3 pads, which the wasm backend runs at
 * memory speed (rank-5/6 transposes, depthToSpace and strided slices are 30-300x slower there).
 */
export function zeroInterleave(t: tf.Tensor4D, strideH: number, strideW: number): tf.Tensor4D {
  const [n, h, w, c] = t.shape;
  if (strideH === 1 && strideW === 1) return t;
  return tf.tidy(() => {
    let rows: tf.Tensor = t;
    if (strideW > 1) {
      rows = tf.pad(t.reshape([n * h * w, 1, c]), [
        [0, 0],
        [0, strideW - 1],
        [0, 0],
      ]);
    }
    let out: tf.Tensor = rows;
    if (strideH > 1) {
      out = tf.pad(rows.reshape([n * h, 1, w * strideW * c]), [
        [0, 0],
        [0, strideH - 1],
        [0, 0],
      ]);
    }
    return out.reshape([n, h * strideH, w * strideW, c]);
  });
}
