import * as tf from '@tensorflow/tfjs';

/** sqrt of the sum of squares of every gradient: one number for the whole step. */
export function globalNorm(gradients: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(gradients.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/**
 * Scales all gradients by clipNorm / globalNorm when the global norm exceeds clipNorm, so the step keeps
 * its direction and its length is at most clipNorm (tf.clip_by_global_norm). Call inside tf.tidy.
 */
export function clipByGlobalNorm(gradients: tf.Tensor[], clipNorm: number, norm: tf.Scalar): tf.Tensor[] {
  const scale = tf.div(clipNorm, tf.maximum(norm, clipNorm));
  return gradients.map((g) => tf.mul(g, scale));
}
