import * as tf from '@tensorflow/tfjs';

type GradConfig = NonNullable<ReturnType<typeof tf.getGradient>>;

let stock: GradConfig | undefined;

/**
 * Gradient of FusedBatchNorm with per-channel statistics written with broadcasting. tfjs' own
 * tiles 1/sqrt(variance) to the full activation shape for the input gradient, and Tile is the
 * slowest kernel of a fine-tuning step on wasm (about 40% of it for MobileNetV2's top blocks).
 * Each partial is computed only when asked for. Other ranks of statistics use the stock gradient.
 */
function gradFunc(dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap): Record<string, () => tf.Tensor> {
  const [x, mean, variance, scale] = saved;
  if (mean.rank !== 1 || Array.isArray(dy)) return stock!.gradFunc(dy, saved, attrs);
  const epsilon = (attrs as unknown as { varianceEpsilon: number }).varianceEpsilon;
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const inverseStd = () => tf.rsqrt(tf.add(variance, epsilon));
  const scaled = () => (scale == null ? inverseStd() : tf.mul(scale, inverseStd()));
  const centred = () => tf.sub(x, mean);
  return {
    x: () => tf.mul(dy, scaled()),
    mean: () => tf.neg(tf.mul(tf.sum(dy, axes), scaled())),
    // d/dvar of (x - mean) * scale * (var + eps)^-1/2 = -1/2 (x - mean) * scale * (var + eps)^-3/2
    variance: () => tf.mul(tf.sum(tf.mul(dy, centred()), axes), tf.mul(scaled(), tf.mul(-0.5, tf.square(inverseStd())))),
    scale: () => tf.mul(tf.sum(tf.mul(dy, centred()), axes), inverseStd()),
    offset: () => tf.sum(dy, axes),
  };
}

/** Replaces the FusedBatchNorm gradient for every backend. Idempotent. */
export function registerBatchNormGradient(): void {
  if (stock) return;
  stock = tf.getGradient('FusedBatchNorm');
  if (!stock) throw new Error('tfjs has no FusedBatchNorm gradient to replace');
  const previousWarn = tf.env().getBool('PROD');
  tf.env().set('PROD', true); // registerGradient warns when it overrides; the override is intended.
  tf.registerGradient({ kernelName: 'FusedBatchNorm', inputsToSave: stock.inputsToSave, gradFunc });
  tf.env().set('PROD', previousWarn);
}
