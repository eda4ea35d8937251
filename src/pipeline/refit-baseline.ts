import type * as tf from '@tensorflow/tfjs';
import { defaultStrengths, refitLogistic } from '../select/cross-validated-logistic';
import { logisticHead } from '../select/logistic-head';
import type { FeatureMatrix } from '../select/logistic-regression';

/** The exported baseline refitted on every labelled image: what the plan, `train --json` and the report say. */
export interface BaselineRefit {
  /** Images it was refitted on (training and validation). */
  images: number;
  /** Images the validated baseline was fitted on (the training split). */
  trainingImages: number;
  /** The L2 strength chosen on the validation images, kept. */
  strength: number;
  seconds: number;
  reason: string;
}

/**
 * Large data's baseline, once it is what gets exported, refitted on the training and validation
 * images together at the strength the validation images chose: the validation split has done its
 * job (choosing the strength, judging head, baseline and fine-tuning), and a linear model at a
 * fixed strength only gains from a quarter more images, as small data's is refitted on every image
 * after its folds. `features` holds the training split's rows, then the validation split's.
 */
export function refitBaseline(features: FeatureMatrix, labels: number[], numClasses: number, strength: number, trainingImages: number): { head: tf.Sequential; refit: BaselineRefit } {
  const started = Date.now();
  const { model, standardization } = refitLogistic(features, labels, numClasses, defaultStrengths, strength);
  const head = logisticHead(model, standardization);
  const seconds = (Date.now() - started) / 1000;
  const reason =
    `The exported baseline was refitted on all ${labels.length} labelled images (training and validation) at the strength the validation images chose ` +
    `(L2 ${strength.toPrecision(2)}); its validation accuracy above is that of the same model fitted on the ${trainingImages} training images.`;
  return { head, refit: { images: labels.length, trainingImages, strength, seconds, reason } };
}
