import { bestOnPath, defaultStrengths, type CrossValidatedLogistic } from './cross-validated-logistic';
import { scoreProbabilities, type CvEstimate } from './cv-estimate';
import { fitLogisticPathIn, logisticProbabilities, type FeatureMatrix, type LogisticModel } from './logistic-regression';
import { spanBasis } from './span-basis';

/** The L2-path logistic regression with its strength chosen on a held-out split. */
export interface HeldOutLogistic {
  /** Held-out accuracy and log loss at each strength, in the order tried. */
  path: CrossValidatedLogistic['path'];
  strength: number;
  /** The model at the chosen strength, fitted on the training part: weights on the (standardized) features. */
  model: LogisticModel;
  /** Its score on the held-out part, with its probabilities there. */
  estimate: CvEstimate;
}

/**
 * Large data's baseline (which keeps a held-out split instead of folds): the path fitted on the
 * training part, each strength scored on the held-out part, the best kept as fitted (bestOnPath).
 * Both parts must be standardized alike (with the training part's statistics).
 */
export function heldOutLogistic(
  train: FeatureMatrix,
  trainLabels: number[],
  heldOut: FeatureMatrix,
  heldOutLabels: number[],
  numClasses: number,
  strengths: number[] = defaultStrengths,
): HeldOutLogistic {
  const basis = spanBasis(train);
  const models = fitLogisticPathIn(basis, trainLabels, numClasses, strengths);
  const heldOutCoordinates = basis.project(heldOut);
  const oneFold = heldOutLabels.map(() => 0);
  const estimates = models.map((model) => scoreProbabilities(logisticProbabilities(model, heldOutCoordinates), heldOutLabels, numClasses, oneFold));
  const path = strengths.map((strength, s) => ({ strength, accuracy: estimates[s].accuracy, logLoss: estimates[s].logLoss }));
  const best = bestOnPath(path);
  const chosen = models[best];
  return { path, strength: strengths[best], model: { ...chosen, weights: basis.toFeatureWeights(chosen.weights, numClasses) }, estimate: estimates[best] };
}
