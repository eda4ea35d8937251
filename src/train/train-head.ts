import type * as tf from '@tensorflow/tfjs';
import { applyHeadTraining, evaluateNetwork, fit, trainableVariables, type EpochLog, type FitOptions, type FitResult, type LabelledData, type TrainableNetwork } from './fit';

export type { EpochLog };
export type LabelledFeatures = LabelledData & { x: tf.Tensor2D };
export type TrainHeadOptions = FitOptions;
export type TrainHeadResult = FitResult;

/** Loss and accuracy of the head in inference mode. */
export function evaluateHead(head: tf.Sequential, data: LabelledFeatures, numClasses: number): { loss: number; accuracy: number } {
  return evaluateNetwork((x) => head.predict(x) as tf.Tensor2D, data, numClasses);
}

/** The head as the training loop sees it: one variable group, dropout masks from the loop's generator. */
export function headNetwork(head: tf.Sequential): TrainableNetwork {
  return {
    forwardTraining: (x, random) => applyHeadTraining(head, x, random),
    predict: (x) => head.predict(x) as tf.Tensor2D,
    groups: [{ name: 'head', variables: trainableVariables(head), rateMultiplier: 1 }],
    weights: head,
  };
}

/** Trains the head alone on cached, pooled features. */
export function trainHead(
  head: tf.Sequential,
  train: LabelledFeatures,
  val: LabelledFeatures | undefined,
  numClasses: number,
  options: TrainHeadOptions,
): Promise<TrainHeadResult> {
  return fit(headNetwork(head), train, val, numClasses, options);
}
