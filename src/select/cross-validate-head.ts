import * as tf from '@tensorflow/tfjs';
import type { FitOptions } from '../train/fit';
import { buildHead, type HeadInitializer } from '../train/head';
import { trainHead } from '../train/train-head';
import type { FoldCoordinates } from './cross-validated-logistic';
import type { CvEstimate } from './cv-estimate';
import { headInput } from './head-input';
import type { FeatureMatrix } from './logistic-regression';
import { PooledFoldCurve } from './pooled-fold-curve';
import { foldCount, foldParts } from './stratified-folds';

/** One head setting cross-validation tries. */
export interface HeadCandidate {
  name: string;
  dropout: number;
  /** Dropout before the first dense layer; absent: `dropout`. */
  inputDropout?: number;
  hiddenUnits: number;
  l2: number;
}

export interface HeadSettings {
  initializer: HeadInitializer;
  initStddev: number;
  seed: number;
}

/** A candidate's cross-validated result at the epoch of its lowest out-of-fold loss. */
export interface ScoredCandidate {
  candidate: HeadCandidate;
  epochs: number;
  estimate: CvEstimate;
  /** Pooled out-of-fold accuracy after each epoch. */
  curve: number[];
}

export interface HeadCrossValidation {
  scored: ScoredCandidate[];
  best: ScoredCandidate;
}

/** Better: higher accuracy, then lower log loss. */
export function betterEstimate(a: CvEstimate, b: CvEstimate): boolean {
  return a.accuracy > b.accuracy || (a.accuracy === b.accuracy && a.logLoss < b.logLoss);
}

/**
 * Every candidate trained on each fold's training part, the folds side by side, with no early
 * stopping or plateau reduction of their own (they would react to the held-out part): the pooled
 * out-of-fold curve (PooledFoldCurve) stops them together once its loss has not improved for
 * `patience` epochs. A candidate's epochs are where that loss is lowest (ties: the earlier); the best
 * candidate has the best accuracy there (ties: the lower loss).
 */
export async function crossValidateHead(args: {
  features: FeatureMatrix;
  /** The folds' span coordinates the baseline's cross-validation computed already (else each fold computes its own). */
  foldCoordinates?: FoldCoordinates[];
  labels: number[];
  numClasses: number;
  foldOf: number[];
  candidates: HeadCandidate[];
  settings: HeadSettings;
  /** The training loop's options (schedule over maxEpochs, batch size, optimizer, seed...). */
  fitOptions: FitOptions;
  maxEpochs: number;
  /** Epochs without a lower pooled out-of-fold loss before the folds stop. */
  patience: number;
  onCandidate?: (candidate: HeadCandidate, folds: number) => void;
}): Promise<HeadCrossValidation> {
  const { labels, numClasses: K, foldOf } = args;
  const parts = Array.from({ length: foldCount(foldOf) }, (_, fold) => foldParts(foldOf, fold)).filter((part) => part.heldOut.length > 0);
  const scored: ScoredCandidate[] = [];
  for (const candidate of args.candidates) {
    args.onCandidate?.(candidate, parts.length);
    const curve = new PooledFoldCurve(labels, K, foldOf, parts.length, args.patience);
    await Promise.all(
      parts.map(async ({ train, heldOut }) => {
        try {
          await trainOnFold(args, candidate, train, heldOut, curve);
        } finally {
          // A fold that ended on its own (an error, or a callback stopping it) must not leave the others waiting.
          curve.abandon();
        }
      }),
    );
    const best = curve.bestEpoch;
    scored.push({ candidate, epochs: best + 1, estimate: curve.estimates[best], curve: curve.estimates.map((e) => e.accuracy) });
  }
  const best = scored.reduce((a, b) => (betterEstimate(b.estimate, a.estimate) ? b : a));
  return { scored, best };
}

async function trainOnFold(args: Parameters<typeof crossValidateHead>[0], candidate: HeadCandidate, train: number[], heldOut: number[], curve: PooledFoldCurve): Promise<void> {
  const { numClasses, maxEpochs } = args;
  const [trainX, heldOutX] = foldInput(args, train, heldOut);
  const head = candidateHead(candidate, trainX.shape[1], numClasses, args.settings);
  const predict = () => {
    const probabilities = tf.tidy(() => head.predict(heldOutX) as tf.Tensor2D);
    try {
      return probabilities.dataSync() as Float32Array;
    } finally {
      probabilities.dispose();
    }
  };
  try {
    await trainHead(head, { x: trainX, labels: train.map((i) => args.labels[i]) }, undefined, numClasses, {
      ...args.fitOptions,
      ...untunedOptions(candidate, maxEpochs),
      onEpoch: undefined,
      callbacks: [curve.callbackFor(heldOut, predict)],
    });
  } finally {
    head.dispose();
    tf.dispose([trainX, heldOutX]);
  }
}

/** The fold's span coordinates (HeadInput): the baseline's when given, else computed here. */
function foldInput({ features, foldOf, foldCoordinates }: Parameters<typeof crossValidateHead>[0], train: number[], heldOut: number[]): [tf.Tensor2D, tf.Tensor2D] {
  const given = foldCoordinates?.find((c) => c.fold === foldOf[heldOut[0]]);
  const fits = given && given.train.length === train.length * given.cols && given.heldOut.length === heldOut.length * given.cols;
  if (given && fits) return [tf.tensor2d(given.train, [train.length, given.cols]), tf.tensor2d(given.heldOut, [heldOut.length, given.cols])];
  const input = headInput(features, train);
  return [input.coordinates, input.project(heldOut)];
}

function candidateHead(candidate: HeadCandidate, numFeatures: number, numClasses: number, settings: HeadSettings): tf.Sequential {
  const { dropout, inputDropout, hiddenUnits } = candidate;
  return buildHead({ numFeatures, numClasses, dropout, inputDropout, hiddenUnits, ...settings });
}

/** Fixed epochs: no early stopping or plateau reduction, whose signal a held-out split would give. */
function untunedOptions(candidate: HeadCandidate, epochs: number): Partial<FitOptions> {
  return { epochs, patience: epochs + 1, plateau: undefined, l2: candidate.l2, onWarning: undefined, checkpoint: undefined };
}

/** The chosen candidate trained on every sample of `x` (what the folds read) for its cross-validated epochs. */
export async function trainFinalHead(args: {
  x: tf.Tensor2D;
  labels: number[];
  numClasses: number;
  chosen: ScoredCandidate;
  settings: HeadSettings;
  fitOptions: FitOptions;
}): Promise<{ head: tf.Sequential; history: Awaited<ReturnType<typeof trainHead>> }> {
  const { candidate, epochs } = args.chosen;
  const head = candidateHead(candidate, args.x.shape[1], args.numClasses, args.settings);
  try {
    const history = await trainHead(head, { x: args.x, labels: args.labels }, undefined, args.numClasses, { ...args.fitOptions, ...untunedOptions(candidate, epochs) });
    return { head, history };
  } catch (error) {
    head.dispose();
    throw error;
  }
}
