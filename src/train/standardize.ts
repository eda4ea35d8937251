import * as tf from '@tensorflow/tfjs';

export interface FeatureStatistics {
  mean: tf.Tensor1D;
  std: tf.Tensor1D;
}

/** Per-feature mean and standard deviation of training features; constant features get std 1. */
export function featureStatistics(x: tf.Tensor2D): FeatureStatistics {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, 0);
    const std = tf.sqrt(variance);
    return { mean: mean as tf.Tensor1D, std: tf.where(tf.greater(std, 1e-6), std, tf.onesLike(std)) as tf.Tensor1D };
  });
}

export function standardize(x: tf.Tensor2D, stats: FeatureStatistics): tf.Tensor2D {
  return tf.tidy(() => tf.div(tf.sub(x, stats.mean), stats.std) as tf.Tensor2D);
}

/**
 * Folds standardization into the head's first dense layer, so the head then reads raw features:
 * (x - mean) / std . W + b  ==  x . (W / std) + (b - (mean / std) . W). Dropout before it is the
 * identity at inference, so the folded head predicts exactly what the trained one did.
 */
export function foldStandardization(head: tf.Sequential, stats: FeatureStatistics): void {
  const dense = head.layers.find((layer) => layer.getClassName() === 'Dense');
  if (!dense) throw new Error('the head has no dense layer to fold the standardization into');
  const [kernel, bias] = dense.getWeights();
  const folded = tf.tidy(() => {
    const scale = tf.reciprocal(stats.std).reshape([-1, 1]);
    const newKernel = tf.mul(kernel, scale);
    const shift = tf.matMul(tf.div(stats.mean, stats.std).reshape([1, -1]), kernel).reshape([-1]);
    return [newKernel, tf.sub(bias, shift)];
  });
  dense.setWeights(folded);
  tf.dispose(folded);
}
