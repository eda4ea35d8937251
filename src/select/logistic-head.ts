import * as tf from '@tensorflow/tfjs';
import { buildHead } from '../train/head';
import { rawFeatureWeights } from './cross-validated-logistic';
import type { LogisticModel, Standardization } from './logistic-regression';

/**
 * The logistic regression as the product's linear head (dropout 0, one softmax dense layer named
 * like every head's), reading raw features: it exports, composes and serves like a trained head.
 */
export function logisticHead(model: LogisticModel, stats: Standardization): tf.Sequential {
  const numFeatures = stats.mean.length;
  const head = buildHead({ numFeatures, numClasses: model.numClasses, dropout: 0, hiddenUnits: 0, seed: 0 });
  const { kernel, bias } = rawFeatureWeights(model, stats);
  const weights = [tf.tensor2d(Float32Array.from(kernel), [numFeatures, model.numClasses]), tf.tensor1d(Float32Array.from(bias))];
  try {
    head.getLayer('head_probabilities').setWeights(weights);
  } finally {
    tf.dispose(weights);
  }
  return head;
}
