import type * as tf from '@tensorflow/tfjs';
import type { FitOptions } from '../train/fit';
import { evaluateHead, trainHead, type EpochLog, type LabelledFeatures } from '../train/train-head';

export const shortRunEpochs = 10;

export interface ShortRun {
  epochs: number;
  history: EpochLog[];
  /** Inference-mode loss and accuracy after the run (the best epoch's weights). */
  train: { loss: number; accuracy: number };
  val?: { loss: number; accuracy: number };
  /** Predicted probabilities of every validation image (training images when there is no validation split). */
  probabilities: number[][];
  probabilitiesOf: 'val' | 'train';
}

/** A few epochs of the real head training (trainHead with the options `train` uses) on the real split. */
export async function shortRun(args: {
  head: tf.Sequential;
  train: LabelledFeatures;
  val?: LabelledFeatures;
  numClasses: number;
  options: FitOptions;
}): Promise<ShortRun> {
  const val = args.val && args.val.labels.length > 0 ? args.val : undefined;
  const result = await trainHead(args.head, args.train, val, args.numClasses, args.options);
  const scored = val ?? args.train;
  const predicted = args.head.predict(scored.x) as tf.Tensor2D;
  try {
    return {
      epochs: result.history.length,
      history: result.history,
      train: evaluateHead(args.head, args.train, args.numClasses),
      ...(val ? { val: evaluateHead(args.head, val, args.numClasses) } : {}),
      probabilities: predicted.arraySync(),
      probabilitiesOf: val ? 'val' : 'train',
    };
  } finally {
    predicted.dispose();
  }
}
