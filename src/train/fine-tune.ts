import * as tf from '@tensorflow/tfjs';
import { poolFeatureMap, type Pooling } from '../models/grid-pooling';
import type { WeightHolder } from './early-stopping';
import { applyHeadTraining, trainableVariables, type TrainableNetwork } from './fit';
import { standardize, type FeatureStatistics } from './standardize';

export interface FineTuneArgs {
  /** The unfrozen top of the base: boundary activation in, last feature map out. */
  segment: tf.LayersModel;
  head: tf.Sequential;
  /** The segment's rate relative to the head's (pretrained layers learn slower). */
  baseRateMultiplier: number;
  /**
   * Batch norm of the unfrozen layers normalizes with its moving statistics and never updates
   * them (Keras' recommendation for fine-tuning); true trains them like any layer. Defaults to false.
   */
  trainBatchNorm?: boolean;
  /** How the head pools the segment's output. Defaults to average. */
  pooling?: Pooling;
  /**
   * The statistics of the pooled features the head learned on: with them the head goes on reading
   * standardized features, in the coordinates its weights (and Adam's steps) were trained in.
   */
  standardization?: FeatureStatistics;
}

function combinedWeights(models: tf.LayersModel[]): WeightHolder {
  return {
    getWeights: () => models.flatMap((model) => model.getWeights()),
    setWeights: (weights) => {
      let offset = 0;
      for (const model of models) {
        const count = model.weights.length;
        model.setWeights(weights.slice(offset, offset + count));
        offset += count;
      }
    },
  };
}

/** The top blocks plus the head as one trainable network, reading cached boundary activations. */
export function fineTuneNetwork(args: FineTuneArgs): TrainableNetwork {
  const { segment, head } = args;
  const training = args.trainBatchNorm ?? false;
  const pooled = (x: tf.Tensor) => {
    const features = poolFeatureMap(x, args.pooling ?? 'average') as tf.Tensor2D;
    return args.standardization ? standardize(features, args.standardization) : features;
  };
  return {
    forwardTraining: (x, random) => applyHeadTraining(head, pooled(segment.apply(x, { training }) as tf.Tensor), random),
    predict: (x) => head.predict(pooled(segment.predict(x) as tf.Tensor)) as tf.Tensor2D,
    groups: [
      { name: 'base', variables: trainableVariables(segment), rateMultiplier: args.baseRateMultiplier },
      { name: 'head', variables: trainableVariables(head), rateMultiplier: 1 },
    ],
    weights: combinedWeights([segment, head]),
  };
}
