import type * as tf from '@tensorflow/tfjs';

/**
 * Frees every weight of the given models once. Layers shared between models (the base inside
 * the frozen part and the export) carry tfjs reference counts that model.dispose() leaves
 * above zero, so whoever owns the weights frees them here, by variable.
 */
export function releaseWeights(...models: tf.LayersModel[]): void {
  const seen = new Set<unknown>();
  for (const model of models) {
    for (const weight of model.weights) {
      if (seen.has(weight)) continue;
      seen.add(weight);
      const variable = (weight as unknown as { val: tf.Variable }).val;
      if (!variable.isDisposed) variable.dispose();
    }
  }
}
