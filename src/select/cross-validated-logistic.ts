import { fitLogisticPathIn, logisticProbabilities, rowsOf, standardizationOf, standardized, type FeatureMatrix, type LogisticModel, type Standardization } from './logistic-regression';
import { foldCount, foldParts } from './stratified-folds';
import { spanBasis } from './span-basis';
import { scoreProbabilities, type CvEstimate } from './cv-estimate';

/** Strengths of (strength / 2) |W|^2 next to the mean cross-entropy on standardized features: a log grid wide enough for any data. */
export const defaultStrengths = Array.from({ length: 10 }, (_, i) => 10 ** (-4 + 0.5 * i));

export interface CrossValidatedLogistic {
  /** Cross-validated accuracy and log loss at each strength, in the order tried. */
  path: { strength: number; accuracy: number; logLoss: number }[];
  strength: number;
  /** The estimate at the chosen strength, with out-of-fold probabilities. */
  estimate: CvEstimate;
  /** Refitted on every sample at the chosen strength. */
  model: LogisticModel;
  standardization: Standardization;
}

/** One fold's L2 path scored on its held-out part: probabilities (heldOut.length x K) at each strength. */
export interface FoldPath {
  heldOut: number[];
  probabilities: Float64Array[];
  /** The fold's span coordinates (training part, then held-out part projected), which the heads read too. */
  coordinates?: FoldCoordinates;
}

/** One fold's images in the span basis of its standardized training part, float32 (what the heads read: HeadInput). */
export interface FoldCoordinates {
  fold: number;
  /** Training part x cols, row-major, in foldParts' order. */
  train: Float32Array;
  /** Held-out part x cols. */
  heldOut: Float32Array;
  cols: number;
}

/**
 * The L2 path fitted on each fold's training part (standardized with its own statistics) and
 * scored on the held-out part; the strength with the best pooled held-out accuracy (ties: the
 * lower log loss, then the stronger) is refitted on every sample.
 */
export function crossValidateLogistic(
  features: FeatureMatrix,
  labels: number[],
  numClasses: number,
  foldOf: number[],
  strengths: number[] = defaultStrengths,
): CrossValidatedLogistic {
  const folds = Array.from({ length: foldCount(foldOf) }, (_, fold) => fitFoldPath(features, labels, numClasses, foldOf, fold, strengths));
  const scored = scorePath(folds, labels, numClasses, foldOf, strengths);
  return { ...scored, ...refitLogistic(features, labels, numClasses, strengths, scored.strength) };
}

/** The path fitted on one fold's training part, its probabilities on the held-out part (none when the fold is empty). */
export function fitFoldPath(features: FeatureMatrix, labels: number[], numClasses: number, foldOf: number[], fold: number, strengths: number[]): FoldPath {
  const { train, heldOut } = foldParts(foldOf, fold);
  if (heldOut.length === 0) return { heldOut, probabilities: [] };
  const trainRows = rowsOf(features, train);
  const stats = standardizationOf(trainRows);
  const basis = spanBasis(standardized(trainRows, stats));
  const models = fitLogisticPathIn(basis, train.map((i) => labels[i]), numClasses, strengths);
  const heldOutRows = basis.project(standardized(rowsOf(features, heldOut), stats));
  const coordinates = { fold, train: Float32Array.from(basis.coordinates.data), heldOut: Float32Array.from(heldOutRows.data), cols: heldOutRows.cols };
  return { heldOut, probabilities: models.map((model) => logisticProbabilities(model, heldOutRows)), coordinates };
}

/** The folds' held-out probabilities pooled at each strength, and the strength chosen (see crossValidateLogistic). */
export function scorePath(folds: FoldPath[], labels: number[], numClasses: number, foldOf: number[], strengths: number[]): Pick<CrossValidatedLogistic, 'path' | 'strength' | 'estimate'> {
  const K = numClasses;
  const outOfFold = strengths.map(() => new Float64Array(labels.length * K));
  for (const { heldOut, probabilities } of folds) {
    probabilities.forEach((p, s) => heldOut.forEach((row, r) => outOfFold[s].set(p.subarray(r * K, (r + 1) * K), row * K)));
  }
  const estimates = outOfFold.map((probabilities) => scoreProbabilities(probabilities, labels, K, foldOf));
  const path = strengths.map((strength, s) => ({ strength, accuracy: estimates[s].accuracy, logLoss: estimates[s].logLoss }));
  const best = bestOnPath(path);
  return { path, strength: strengths[best], estimate: estimates[best] };
}

/** The index of the best point of a scored path: the highest accuracy; ties: the lower log loss, then the stronger. */
export function bestOnPath(path: CrossValidatedLogistic['path']): number {
  let best = 0;
  for (let s = 1; s < path.length; s++) {
    const [a, b] = [path[s], path[best]];
    const better = a.accuracy > b.accuracy || (a.accuracy === b.accuracy && (a.logLoss < b.logLoss || (a.logLoss === b.logLoss && a.strength > b.strength)));
    if (better) best = s;
  }
  return best;
}

/** The model at `strength` on every sample, reached along the same path (down from the strongest) as every fold. */
export function refitLogistic(features: FeatureMatrix, labels: number[], numClasses: number, strengths: number[], strength: number): Pick<CrossValidatedLogistic, 'model' | 'standardization'> {
  const standardization = standardizationOf(features);
  const walked = strengths.filter((s) => s >= strength);
  const basis = spanBasis(standardized(features, standardization));
  // Only the chosen model back onto the features (each conversion is d x n x K).
  const chosen = fitLogisticPathIn(basis, labels, numClasses, walked)[walked.indexOf(strength)];
  return { model: { ...chosen, weights: basis.toFeatureWeights(chosen.weights, numClasses) }, standardization };
}

/** A dense layer's weights (cols x K) and bias on standardized features, on raw features: the standardization folded in. */
export function rawFeatureWeights(model: Pick<LogisticModel, 'weights' | 'bias' | 'numClasses'>, stats: Standardization): { kernel: Float64Array; bias: Float64Array } {
  const K = model.numClasses;
  const cols = stats.mean.length;
  const kernel = new Float64Array(cols * K);
  const bias = Float64Array.from(model.bias);
  for (let j = 0; j < cols; j++) {
    for (let k = 0; k < K; k++) {
      const w = model.weights[j * K + k] / stats.std[j];
      kernel[j * K + k] = w;
      bias[k] -= stats.mean[j] * w;
    }
  }
  return { kernel, bias };
}
