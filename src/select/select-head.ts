import * as tf from '@tensorflow/tfjs';
import type { FitOptions, FitResult } from '../train/fit';
import { crossValidateHead, trainFinalHead, type HeadCandidate, type HeadSettings, type ScoredCandidate } from './cross-validate-head';
import { crossValidateLogistic, defaultStrengths, type CrossValidatedLogistic } from './cross-validated-logistic';
import type { CvEstimate } from './cv-estimate';
import type { FeatureMatrix } from './logistic-regression';
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
  /** Cross-validated accuracy of the winner minus that of the best of the other kind. */
  margin: number;
  reason: string;
  folds: number;
  foldOf: number[];
  /** The cross-validated logistic regression, refitted on all images (whether it won or not). */
  baseline: CrossValidatedLogistic;
  /** How the winning head trained on all images (absent when the baseline won). */
  final?: FitResult;
}

/**
 * Head settings tried: the configured one and one hidden layer with more dropout. Linear models
 * along an L2 path are the baseline's; the epochs come from the fold curves.
 */
export function headCandidates(configured: { dropout: number; hiddenUnits: number; l2: number }): HeadCandidate[] {
  const name = (c: Omit<HeadCandidate, 'name'>) =>
    `${c.hiddenUnits > 0 ? `hidden ${c.hiddenUnits}` : 'linear'}, dropout ${c.dropout}${c.l2 > 0 ? `, l2 ${c.l2}` : ''}`;
  const settings = [configured, { dropout: 0.5, hiddenUnits: configured.hiddenUnits || 64, l2: configured.l2 }];
  const unique = settings.filter((s, i) => settings.findIndex((t) => t.dropout === s.dropout && t.hiddenUnits === s.hiddenUnits && t.l2 === s.l2) === i);
  return unique.map((s) => ({ name: name(s), ...s }));
}

/**
 * Small data: every labelled training image is used. Stratified k-fold cross-validation scores the
 * head candidates (epochs from their fold curves) and the L2-path logistic regression on the same
 * folds; the better (ties: the baseline, simpler and deterministic) is what is trained on all images.
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
  strengths?: number[];
  onStep?: (message: string) => void;
}): Promise<HeadSelection> {
  const { labels, numClasses } = args;
  const foldOf = stratifiedFolds(labels, numClasses, args.folds, args.seed);
  const folds = foldOf.reduce((max, f) => Math.max(max, f + 1), 0);
  args.onStep?.(`baseline: logistic regression, ${folds}-fold cross-validated L2 path`);
  const matrix: FeatureMatrix = { data: Float64Array.from(args.x.dataSync()), rows: args.x.shape[0], cols: args.x.shape[1] };
  const baseline = crossValidateLogistic(matrix, labels, numClasses, foldOf, args.strengths ?? defaultStrengths);
  const heads = await crossValidateHead({
    x: args.x,
    labels,
    numClasses,
    foldOf,
    candidates: args.candidates,
    settings: args.settings,
    fitOptions: args.fitOptions,
    maxEpochs: args.maxEpochs,
    onFold: (candidate, fold, count) => args.onStep?.(`head ${candidate.name}: fold ${fold + 1}/${count}`),
  });
  const candidates = [...heads.scored.map(headSummary), baselineSummary(baseline)];
  const best = heads.best;
  const baselineWins = baseline.estimate.accuracy >= best.estimate.accuracy;
  const margin = baselineWins ? baseline.estimate.accuracy - best.estimate.accuracy : best.estimate.accuracy - baseline.estimate.accuracy;
  const points = (value: number) => `${(100 * value).toFixed(1)} points`;
  if (baselineWins) {
    return {
      winner: 'baseline',
      head: logisticHead(baseline.model, baseline.standardization),
      estimate: baseline.estimate,
      candidates,
      chosen: baselineSummary(baseline).name,
      margin,
      reason:
        `The logistic regression (L2 ${baseline.strength.toPrecision(2)}) scored ${baseline.estimate.accuracy.toFixed(3)} in ${folds}-fold cross-validation, ` +
        `${margin > 0 ? `${points(margin)} above` : 'as well as'} the best head (${best.candidate.name}, ${best.epochs} epochs: ${best.estimate.accuracy.toFixed(3)}); ` +
        `${margin > 0 ? 'it' : 'the simpler model'} is exported, refitted on all ${labels.length} images.`,
      folds,
      foldOf,
      baseline,
    };
  }
  args.onStep?.(`final head ${best.candidate.name}, ${best.epochs} epochs on all ${labels.length} images`);
  const { head, history } = await trainFinalHead({ x: args.x, labels, numClasses, chosen: best, settings: args.settings, fitOptions: args.fitOptions });
  return {
    winner: 'head',
    head,
    estimate: best.estimate,
    candidates,
    chosen: best.candidate.name,
    margin,
    reason:
      `The head ${best.candidate.name} trained for ${best.epochs} epochs scored ${best.estimate.accuracy.toFixed(3)} in ${folds}-fold cross-validation, ` +
      `${points(margin)} above the logistic regression baseline (${baseline.estimate.accuracy.toFixed(3)}); it is trained again on all ${labels.length} images.`,
    folds,
    foldOf,
    baseline,
    final: history,
  };
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
