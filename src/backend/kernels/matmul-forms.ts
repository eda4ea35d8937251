import * as tf from '@tensorflow/tfjs';

export type FastBackend = 'wasm' | 'cpu';

/**
 * a^T b for 2-D a [m, p] and b [m, q] -> [p, q].
 * On wasm, matMul with transposeA is ~14x slower than an explicit transpose followed by a plain matMul,
 * so the smaller of the two operands (a, or b and then the [q, p] product) is transposed explicitly.
 * On cpu the flag costs nothing and saves the copy.
 */
export function matMulAtB(a: tf.Tensor2D, b: tf.Tensor2D, backend: FastBackend): tf.Tensor2D {
  if (backend === 'cpu') return tf.matMul(a, b, true, false);
  return tf.tidy((): tf.Tensor2D => {
    const [, p] = a.shape;
    const [, q] = b.shape;
    if (p <= q) return tf.matMul(tf.transpose(a), b);
    return tf.transpose(tf.matMul(tf.transpose(b), a)) as tf.Tensor2D;
  });
}

/** a b^T for a [m, q] and b [p, q] -> [m, p]; b is the small operand (a filter) and is transposed explicitly on wasm. */
export function matMulABt(a: tf.Tensor2D, b: tf.Tensor2D, backend: FastBackend): tf.Tensor2D {
  if (backend === 'cpu') return tf.matMul(a, b, false, true);
  return tf.tidy(() => tf.matMul(a, tf.transpose(b)));
}

/**
 * Sum over the rows of a freshly computed [m, q] matrix, as an average pool with a 1 x m window times m.
 * A [1, m] x [m, q] product would be as cheap in arithmetic, but wasm's matMul packs its right operand
 * (cached per tensor, so only a fresh operand pays): 13 ms for a [6272, 576] operand where the pooling
 * takes 1 ms; on cpu the pooling is also the fastest of sum, mean, matMul and conv forms.
 */
export function sumRows(a: tf.Tensor2D): tf.Tensor2D {
  const [m, q] = a.shape;
  return tf.tidy(() => tf.mul(tf.avgPool(a.reshape([1, 1, m, q]) as tf.Tensor4D, [1, m], 1, 'valid'), m).reshape([1, q]) as tf.Tensor2D);
}
