import * as tf from '@tensorflow/tfjs';
import { heldOutLogistic, type HeldOutLogistic } from '../select/held-out-logistic';
import { logisticHead } from '../select/logistic-head';
import type { FeatureMatrix } from '../select/logistic-regression';
import { pairedStandardError } from '../select/select-head';
import { correctPredictions } from '../train/fine-tune-gate';
import type { LabelledData } from '../train/fit';
import { predictInBatches } from '../train/predict-in-batches';
import type { BaselineRefit } from './refit-baseline';
import type { FeatureStatistics } from '../train/standardize';

/** Large data's head against the built-in baseline on the validation split: what the plan, `train --json` and the report say. */
export interface BaselineComparison {
  method: 'validation split';
  /** Validation images both were scored on. */
  n: number;
  winner: 'head' | 'baseline';
  headAccuracy: number;
  baselineAccuracy: number;
  /** The baseline's L2 strength, chosen on the validation images. */
  strength: number;
  /** The baseline's validation accuracy and log loss at each strength tried. */
  path: HeldOutLogistic['path'];
  /** headAccuracy - baselineAccuracy. */
  margin: number;
  /** Standard error of that difference, paired over images: the head must beat it to be kept. */
  standardError: number;
  /** Time the baseline's path took. */
  seconds: number;
  reason: string;
  /** When the baseline was exported, refitted on the training and validation images (refit stage). */
  refit?: BaselineRefit;
}

type Features = LabelledData & { x: tf.Tensor2D };

const matrixOf = (x: tf.Tensor2D): FeatureMatrix => ({ data: Float64Array.from(x.dataSync()), rows: x.shape[0], cols: x.shape[1] });
const points = (value: number) => `${(100 * value).toFixed(1)} points`;

/**
 * The built-in baseline on large data: the L2-path logistic regression on the head's standardized
 * features, its strength chosen on the validation split, against the trained head (which reads raw
 * features) on the same images. As on small data, the head is kept only when it beats the baseline
 * by more than one standard error of the paired difference; otherwise the baseline becomes the head
 * (reading raw features too): the head-only model, which fine-tuning (still starting from the trained
 * head) must beat.
 */
export async function headOrBaseline(args: {
  head: tf.Sequential;
  standardTrain: Features;
  standardVal: Features;
  rawVal: Features;
  stats: FeatureStatistics;
  numClasses: number;
}): Promise<{ head: tf.Sequential; comparison: BaselineComparison }> {
  const { numClasses, standardTrain, standardVal } = args;
  const labels = standardVal.labels;
  const started = Date.now();
  const baseline = heldOutLogistic(matrixOf(standardTrain.x), standardTrain.labels, matrixOf(standardVal.x), labels, numClasses);
  const seconds = (Date.now() - started) / 1000;
  const { values } = await predictInBatches((x) => args.head.predict(x) as tf.Tensor2D, args.rawVal.x);
  const headAccuracy = correctPredictions(values, labels).filter(Boolean).length / Math.max(labels.length, 1);
  const headProbabilities = Float64Array.from(values);
  const standardError = pairedStandardError(headProbabilities, baseline.estimate.probabilities, labels, numClasses);
  const margin = headAccuracy - baseline.estimate.accuracy;
  const winner = margin > standardError ? 'head' : 'baseline';
  const comparison: BaselineComparison = {
    method: 'validation split',
    n: labels.length,
    winner,
    headAccuracy,
    baselineAccuracy: baseline.estimate.accuracy,
    strength: baseline.strength,
    path: baseline.path,
    margin,
    standardError,
    seconds,
    reason: reasonFor(winner, baseline, headAccuracy, standardError, labels.length),
  };
  if (winner === 'head') return { head: args.head, comparison };
  const [mean, std] = [args.stats.mean, args.stats.std].map((t) => Float64Array.from(t.dataSync()));
  return { head: logisticHead(baseline.model, { mean, std }), comparison };
}

function reasonFor(winner: BaselineComparison['winner'], baseline: HeldOutLogistic, headAccuracy: number, standardError: number, n: number): string {
  const scores =
    `On the ${n} validation images the trained head scored ${headAccuracy.toFixed(3)} and the logistic regression baseline ` +
    `(L2 ${baseline.strength.toPrecision(2)}, chosen on them) ${baseline.estimate.accuracy.toFixed(3)}`;
  return winner === 'head'
    ? `${scores}: the head beats it by more than one standard error of the paired difference (${points(standardError)}) and is kept.`
    : `${scores}: the head does not beat it by more than one standard error of the paired difference (${points(standardError)}), ` +
        'so the baseline (simpler) is the head-only model.';
}
