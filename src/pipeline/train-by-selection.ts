import * as tf from '@tensorflow/tfjs';
import type { FinetuneConfig } from '../config/schema';
import { countByLabel, type Dataset } from '../data/dataset';
import type { Logger } from '../logger';
import { datasetSize, type Plan } from '../policy/plan';
import type { LogisticAside } from '../select/logistic-pool';
import type { FeatureMatrix } from '../select/logistic-regression';
import { headCandidates, selectHead, type HeadSelection } from '../select/select-head';
import { stratifiedFolds } from '../select/stratified-folds';
import { evaluateNetwork, type EpochLog, type LabelledData } from '../train/fit';
import { predictInBatches } from '../train/predict-in-batches';
import { headFitOptions, type TrainedClassifier, type TrainingPhase } from './train-classifier';

/**
 * Whether the head is chosen by cross-validation on all labelled training images: small data
 * (below train.crossValidateBelow, default policy.largeMinImages), a frozen base, and no augmented
 * views (an image's views would land in other folds than the image).
 */
export function crossValidates(config: FinetuneConfig, plan: Pick<Plan, 'fineTune'>, labelledImages: number): boolean {
  const below = config.train.crossValidateBelow || config.policy.largeMinImages;
  return config.train.folds >= 2 && !plan.fineTune && config.augment.views === 0 && labelledImages < below;
}

/**
 * Before there is a plan: whether this dataset will be cross-validated, readouts included. Small
 * data (the plan's size category) are never fine-tuned, so only the sizes and settings decide.
 */
export function readoutsCrossValidated(config: FinetuneConfig, dataset: Pick<Dataset, 'train' | 'val' | 'labels'>): boolean {
  const small = datasetSize(countByLabel(dataset.train, dataset.labels), config.policy).category === 'small';
  return small && crossValidates(config, {}, dataset.train.length + dataset.val.length);
}

/** The plan's sentence about how the head will be chosen. */
export function selectionPlanned(config: FinetuneConfig, labelledImages: number): string {
  return (
    `Small data: no validation split is taken; ${config.train.folds}-fold cross-validation on all ${labelledImages} labelled training images ` +
    'chooses between head settings (and their epochs) and a logistic-regression baseline on the same features; the winner is trained on all of them.'
  );
}

/** The folds every cross-validation of a run uses (depths, baseline, heads): stratified, fixed by train.seed. */
export function selectionFolds(config: FinetuneConfig, labels: number[], numClasses: number): number[] {
  return stratifiedFolds(labels, numClasses, config.train.folds, config.train.seed);
}

/** Every labelled training image's features (train, then val) as one matrix, in the order selection reads them. */
export function selectionMatrix(features: { train: LabelledData; val?: LabelledData }): { features: FeatureMatrix; labels: number[] } {
  const parts = [features.train, ...(features.val ? [features.val] : [])];
  const cols = features.train.x.shape.slice(1).reduce((a, b) => a * b, 1);
  const rows = parts.reduce((sum, part) => sum + part.labels.length, 0);
  const data = new Float64Array(rows * cols);
  let offset = 0;
  for (const part of parts) {
    const values = part.x.dataSync();
    data.set(values, offset);
    offset += values.length;
  }
  return { features: { data, rows, cols }, labels: parts.flatMap((part) => part.labels) };
}

/** Cross-validated selection of the head (or the logistic-regression baseline), then the winner on all images. */
export async function trainBySelection(args: {
  config: FinetuneConfig;
  logger: Logger;
  /** Pooled features; train and val are pooled together. */
  train: LabelledData;
  val?: LabelledData;
  numClasses: number;
  /** The logistic regression already cross-validated on these features and folds (by select-features). */
  baseline?: LogisticAside;
  signal?: AbortSignal;
  /** Called after every epoch of the winning head's final training on all images. */
  onEpoch?: (log: EpochLog) => void;
}): Promise<{ trained: TrainedClassifier; selection: HeadSelection }> {
  const { config, logger, numClasses } = args;
  const x = (args.val ? tf.concat([args.train.x, args.val.x]) : args.train.x) as tf.Tensor2D;
  const labels = [...args.train.labels, ...(args.val?.labels ?? [])];
  const started = Date.now();
  try {
    const maxEpochs = config.train.epochs;
    // The folds replace onEpoch with their own; the final head keeps it.
    const fitOptions = { ...headFitOptions(config, logger, maxEpochs), signal: args.signal, onWarning: undefined, onEpoch: args.onEpoch };
    const selection = await selectHead({
      x,
      labels,
      numClasses,
      folds: config.train.folds,
      seed: config.train.seed,
      candidates: headCandidates(config.train),
      settings: { initializer: config.train.initializer, initStddev: config.train.initStddev, seed: config.train.seed },
      fitOptions,
      maxEpochs,
      patience: config.train.patience,
      baseline: args.baseline,
      onStep: (message) => logger.info(`  ${message}`),
    });
    for (const c of selection.candidates) {
      logger.info(`  ${c.name}${c.settings.epochs ? `, ${c.settings.epochs} epochs` : ''}: cross-validated accuracy ${c.accuracy.toFixed(3)} ± ${c.foldStd.toFixed(3)} (n=${c.n})`);
    }
    logger.info(selection.reason);
    const seconds = (Date.now() - started) / 1000;
    const phase: TrainingPhase = {
      name: 'head',
      schedule: fitOptions.schedule.toConfig(),
      settings: { selection: selection.chosen, folds: selection.folds },
      history: selection.final?.history ?? [],
      bestEpoch: selection.final ? selection.final.history.length - 1 : -1,
      warnings: selection.final?.warnings ?? [],
      recoveries: selection.final?.recoveries ?? [],
      imagesPerSecond: labels.length / Math.max(seconds, 1e-9),
    };
    const head = selection.head;
    const predict = (input: tf.Tensor) => head.predict(input) as tf.Tensor2D;
    return {
      selection,
      trained: {
        head,
        phases: [phase],
        score: (data) => evaluateNetwork(predict, data, numClasses),
        probabilities: async (input) => (await predictInBatches(predict, input)).values,
      },
    };
  } finally {
    if (args.val) x.dispose();
  }
}
