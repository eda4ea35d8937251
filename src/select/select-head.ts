import * as tf from '@tensorflow/tfjs';
import type { FitOptions, FitResult } from '../train/fit';
import { crossValidateHead, trainFinalHead, type HeadCandidate, type HeadSettings, type ScoredCandidate } from './cross-validate-head';
import { defaultStrengths, type CrossValidatedLogistic } from './cross-validated-logistic';
import { crossValidateLogisticAside, type LogisticAside } from './logistic-pool';
import type { CvEstimate } from './cv-estimate';
import type { FeatureMatrix } from './logistic-regression';
import { headInput } from './head-input';
import { logisticHead } from './logistic-head';
import { stratifiedFolds } from './stratified-folds';

/** One model cross-validation tried, as plan/train --json and the report list it. */
export interface CandidateSummary {
  name: string;
  kind: 'head' | 'baseline';
  /** Pooled out-of-fold accuracy, its spread over folds, and n. */
  accuracy: number;
  foldStd: number;
  n: number;
  logLoss: number;
  /** Head: dropout, hidden units, l2, epochs; baseline: the L2 strength. */
  settings: Record<string, number>;
}

export interface HeadSelection {
  winner: 'head' | 'baseline';
  /** The exported head: reads raw pooled features (standardization folded in). */
  head: tf.Sequential;
  /** The winner's cross-validated estimate with its out-of-fold probabilities. */
  estimate: CvEstimate;
  candidates: CandidateSummary[];
  /** The winner's name, among candidates. */
  chosen: string;
  /** Cross-validated accuracy of the best head minus the baseline's. */
  margin: number;
  /** Standard error of that difference, paired over images: the head must beat it to be chosen. */
  standardError: number;
  reason: string;
  folds: number;
  foldOf: number[];
  /** The cross-validated logistic regression, refitted on all images (whether it won or not). */
  baseline: CrossValidatedLogistic;
  /** How the winning head trained on all images (absent when the baseline won). */
  final?: FitResult;
}

/**
 * Head settings tried: one hidden layer, as configured (when it has one) and with 64 units and
 * dropout 0.5 after it. No linear head: the baseline is the linear model, fitted exactly along its L2
 * path; a linear head trained by gradient steps with dropout is the same model class fitted less
 * exactly (it never won in the measurements in README). The heads read span coordinates
 * (HeadInput), where dropping a coordinate drops a direction of every feature at once: the built-in
 * candidate keeps dropout off its input (measured in README: 1.5x fewer epochs, a point more accurate). The
 * epochs come from the fold curves.
 */
export function headCandidates(configured: { dropout: number; hiddenUnits: number; l2: number }): HeadCandidate[] {
  const name = (c: Omit<HeadCandidate, 'name'>) =>
    `hidden ${c.hiddenUnits}, dropout ${c.dropout}${c.inputDropout === 0 ? ' after it' : ''}${c.l2 > 0 ? `, l2 ${c.l2}` : ''}`;
  const settings: Omit<HeadCandidate, 'name'>[] = [configured, { dropout: 0.5, inputDropout: 0, hiddenUnits: 64, l2: configured.l2 }].filter((s) => s.hiddenUnits > 0);
  const same = (s: Omit<HeadCandidate, 'name'>, t: Omit<HeadCandidate, 'name'>) =>
    t.dropout === s.dropout && t.inputDropout === s.inputDropout && t.hiddenUnits === s.hiddenUnits && t.l2 === s.l2;
  const unique = settings.filter((s, i) => settings.findIndex((t) => same(s, t)) === i);
  return unique.map((s) => ({ name: name(s), ...s }));
}

/**
 * Small data: every labelled training image is used. Stratified k-fold cross-validation scores the
 * head candidates (epochs from their fold curves) and the L2-path logistic regression on the same
 * folds. The best head is chosen only when it beats the baseline by more than one standard error of
 * the paired difference (the one-standard-error rule: prefer the simpler model within the noise).
 */
export async function selectHead(args: {
  x: tf.Tensor2D;
  labels: number[];
  numClasses: number;
  folds: number;
  seed: number;
  candidates: HeadCandidate[];
  settings: HeadSettings;
  fitOptions: FitOptions;
  maxEpochs: number;
  /** Epochs without a lower pooled out-of-fold loss before a candidate's folds stop. */
  patience: number;
  strengths?: number[];
  /** The baseline already cross-validated on these features and folds (select-features'), maybe still refitting. */
  baseline?: LogisticAside;
  onStep?: (message: string) => void;
}): Promise<HeadSelection> {
  const { labels, numClasses } = args;
  const foldOf = stratifiedFolds(labels, numClasses, args.folds, args.seed);
  const folds = foldOf.reduce((max, f) => Math.max(max, f + 1), 0);
  const features: FeatureMatrix = { data: Float64Array.from(args.x.dataSync()), rows: args.x.shape[0], cols: args.x.shape[1] };
  const aside = startBaseline(args, features, foldOf, folds);
  try {
    return await selectOn(features, args, foldOf, folds, aside);
  } catch (error) {
    await aside.stop();
    throw error;
  }
}

async function selectOn(features: FeatureMatrix, args: Parameters<typeof selectHead>[0], foldOf: number[], folds: number, aside: LogisticAside): Promise<HeadSelection> {
  const { labels, numClasses } = args;
  const heads = await crossValidateHead({
    features,
    foldCoordinates: args.baseline?.folds,
    labels,
    numClasses,
    foldOf,
    candidates: args.candidates,
    settings: args.settings,
    fitOptions: args.fitOptions,
    maxEpochs: args.maxEpochs,
    patience: args.patience,
    onCandidate: (candidate, count) => args.onStep?.(`head ${candidate.name}: ${count} folds side by side, up to ${args.maxEpochs} epochs`),
  });
  const baseline = await aside.result;
  const candidates = [...heads.scored.map(headSummary), baselineSummary(baseline)];
  const best = heads.best;
  const standardError = pairedStandardError(best.estimate.probabilities, baseline.estimate.probabilities, labels, numClasses);
  // The head must beat the simplest honest model by more than the noise of the comparison.
  const baselineWins = best.estimate.accuracy - baseline.estimate.accuracy <= standardError;
  // Positive: how far the head is above the baseline in cross-validated accuracy (negative: below).
  const margin = best.estimate.accuracy - baseline.estimate.accuracy;
  const comparison = { folds, images: labels.length, standardError, margin };
  if (baselineWins) {
    return {
      winner: 'baseline',
      head: logisticHead(baseline.model, baseline.standardization),
      estimate: baseline.estimate,
      candidates,
      chosen: baselineSummary(baseline).name,
      margin,
      standardError,
      reason: baselineReason(baseline, best, comparison),
      folds,
      foldOf,
      baseline,
    };
  }
  args.onStep?.(`final head ${best.candidate.name}, ${best.epochs} epochs on all ${labels.length} images`);
  const { head, history } = await trainFinalOnAll(features, best, args);
  return {
    winner: 'head',
    head,
    estimate: best.estimate,
    candidates,
    chosen: best.candidate.name,
    margin,
    standardError,
    reason: headReason(baseline, best, comparison),
    folds,
    foldOf,
    baseline,
    final: history,
  };
}

/**
 * The baseline's cross-validation: the one select-features already ran on these features and folds,
 * or a new one on worker threads (plain arithmetic), while the heads train here (tfjs).
 */
function startBaseline(args: Parameters<typeof selectHead>[0], features: FeatureMatrix, foldOf: number[], folds: number): LogisticAside {
  if (args.baseline) return args.baseline;
  args.onStep?.(`baseline: logistic regression, ${folds}-fold cross-validated L2 path`);
  return crossValidateLogisticAside({ features, labels: args.labels, numClasses: args.numClasses, foldOf, strengths: args.strengths ?? defaultStrengths });
}

/** The winning head trained on every image's span coordinates, then made to read raw pooled features. */
async function trainFinalOnAll(features: FeatureMatrix, best: ScoredCandidate, args: Parameters<typeof selectHead>[0]): Promise<{ head: tf.Sequential; history: FitResult }> {
  const input = headInput(features);
  try {
    const { labels, numClasses } = args;
    const trained = await trainFinalHead({ x: input.coordinates, labels, numClasses, chosen: best, settings: args.settings, fitOptions: args.fitOptions });
    const { dropout, inputDropout, hiddenUnits } = best.candidate;
    try {
      return { head: input.readingFeatures(trained.head, { numClasses, dropout, inputDropout: inputDropout ?? dropout, hiddenUnits }), history: trained.history };
    } finally {
      trained.head.dispose();
    }
  } finally {
    input.dispose();
  }
}

type Comparison = { folds: number; images: number; standardError: number; margin: number };
const points = (value: number) => `${(100 * value).toFixed(1)} points`;

function baselineReason(baseline: CrossValidatedLogistic, best: ScoredCandidate, { folds, images, standardError }: Comparison): string {
  return (
    `The logistic regression (L2 ${baseline.strength.toPrecision(2)}) scored ${baseline.estimate.accuracy.toFixed(3)} in ${folds}-fold cross-validation, ` +
    `against ${best.estimate.accuracy.toFixed(3)} for the best head (${best.candidate.name}, ${best.epochs} epochs), which does not beat it by more than ` +
    `one standard error of the paired difference (${points(standardError)}); the simpler model is exported, refitted on all ${images} images.`
  );
}

function headReason(baseline: CrossValidatedLogistic, best: ScoredCandidate, { folds, images, standardError, margin }: Comparison): string {
  return (
    `The head ${best.candidate.name} trained for ${best.epochs} epochs scored ${best.estimate.accuracy.toFixed(3)} in ${folds}-fold cross-validation, ` +
    `${points(margin)} above the logistic regression baseline (${baseline.estimate.accuracy.toFixed(3)}), more than one standard error of the paired difference ` +
    `(${points(standardError)}); it is trained again on all ${images} images.`
  );
}

/** Standard error of the difference in accuracy of two sets of predictions of the same images. */
export function pairedStandardError(a: Float64Array, b: Float64Array, labels: number[], numClasses: number): number {
  const n = labels.length;
  const hit = (p: Float64Array, i: number) => {
    let best = 0;
    for (let k = 1; k < numClasses; k++) if (p[i * numClasses + k] > p[i * numClasses + best]) best = k;
    return best === labels[i] ? 1 : 0;
  };
  const differences = labels.map((_, i) => hit(a, i) - hit(b, i));
  const mean = differences.reduce((sum, d) => sum + d, 0) / n;
  const variance = differences.reduce((sum, d) => sum + (d - mean) ** 2, 0) / Math.max(n - 1, 1);
  return Math.sqrt(variance / n);
}

function headSummary(scored: ScoredCandidate): CandidateSummary {
  const { candidate, estimate } = scored;
  return {
    name: candidate.name,
    kind: 'head',
    accuracy: estimate.accuracy,
    foldStd: estimate.foldStd,
    n: estimate.n,
    logLoss: estimate.logLoss,
    settings: { dropout: candidate.dropout, hiddenUnits: candidate.hiddenUnits, l2: candidate.l2, epochs: scored.epochs },
  };
}

function baselineSummary(baseline: CrossValidatedLogistic): CandidateSummary {
  return {
    name: `logistic regression, L2 ${baseline.strength.toPrecision(2)}`,
    kind: 'baseline',
    accuracy: baseline.estimate.accuracy,
    foldStd: baseline.estimate.foldStd,
    n: baseline.estimate.n,
    logLoss: baseline.estimate.logLoss,
    settings: { strength: baseline.strength },
  };
}
