import type * as tf from '@tensorflow/tfjs';
import type { FinetuneConfig } from '../config/schema';
import { applyHeadTraining, trainableVariables, type TrainableNetwork } from '../train/fit';
import { buildHead } from '../train/head';

/** The head as the training loop sees it (what trainHead() hands to fit()). */
export function headNetwork(head: tf.Sequential): TrainableNetwork {
  return {
    forwardTraining: (x, random) => applyHeadTraining(head, x, random),
    predict: (x) => head.predict(x) as tf.Tensor2D,
    groups: [{ name: 'head', variables: trainableVariables(head), rateMultiplier: 1 }],
    weights: head,
  };
}

/** A freshly initialized head as `train` builds it; dropout can be turned off for the checks that must not regularize. */
export function freshHead(config: FinetuneConfig, numFeatures: number, numClasses: number, options: { dropout?: number } = {}): tf.Sequential {
  return buildHead({
    numFeatures,
    numClasses,
    dropout: options.dropout ?? config.train.dropout,
    hiddenUnits: config.train.hiddenUnits,
    initializer: config.train.initializer,
    seed: config.train.seed,
  });
}
