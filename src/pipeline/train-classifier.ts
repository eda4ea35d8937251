import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import type { FinetuneConfig } from '../config/schema';
import { layersForward } from '../features/frozen-forward';
import type { Logger } from '../logger';
import type { Progress } from '../progress';
import { poolFeatureMap, type Pooling } from '../models/grid-pooling';
import { segmentBetween } from '../models/network-surgery';
import type { Plan } from '../policy/plan';
import { EarlyAbandon } from '../train/early-abandon';
import { fineTuneNetwork } from '../train/fine-tune';
import { correctPredictions, keepOrDropFineTuning, type FineTuneGate } from '../train/fine-tune-gate';
import { evaluateNetwork, fit, type EpochLog, type FitOptions, type FitResult, type LabelledData, type TrainableNetwork } from '../train/fit';
import { buildConfiguredHead } from '../train/head';
import { buildSchedule, type LearningRateSchedule } from '../train/learning-rate-schedule';
import { assertFiniteInputs, type NonFiniteRecovery } from '../train/nan-guard';
import { predictInBatches } from '../train/predict-in-batches';
import { ProgressCallback } from '../train/progress-callback';
import type { TrainingCallback } from '../train/training-callback';
import type { TrainingWarning } from '../train/training-warnings';
import { featureStatistics, foldStandardization, standardize, type FeatureStatistics } from '../train/standardize';
import { headOrBaseline, type BaselineComparison } from './held-out-baseline';
import { refitBaseline, type BaselineRefit } from './refit-baseline';
import type { FeatureMatrix } from '../select/logistic-regression';
import { trainHead } from '../train/train-head';

export interface TrainingPhase {
  name: 'head' | 'fine-tune';
  schedule: Record<string, unknown>;
  /** Optimizer, plateau reduction and regularization the phase trained with. */
  settings: Record<string, unknown>;
  history: EpochLog[];
  bestEpoch: number;
  /** Overfitting, plateaus (rate reduced), predictions near uniform, non-finite steps. */
  warnings: TrainingWarning[];
  /** Non-finite steps the NaN guard recovered from. */
  recoveries: NonFiniteRecovery[];
  /** Training examples seen per second over the phase's epochs. */
  imagesPerSecond: number;
}

export interface TrainedClassifier {
  head: tf.Sequential;
  /** The fine-tuned top of the base (shares its layers), when the plan fine-tunes. */
  segment?: tf.LayersModel;
  phases: TrainingPhase[];
  /** When the plan fine-tunes: whether the fine-tuning phase was kept, or the head-only model restored, and why. */
  fineTuneGate?: FineTuneGate;
  /** With a validation split: the trained head against the logistic regression baseline, and which became the head-only model. */
  baseline?: BaselineComparison;
  /** Loss and accuracy of the whole trained network on cached inputs. */
  score(data: LabelledData): { loss: number; accuracy: number };
  /** Class probabilities of the whole trained network for each cached input, [examples x classes] row-major. */
  probabilities(x: tf.Tensor): Promise<Float32Array>;
  /**
   * Present when the model is the head-only model and its head the baseline, fitted on the training
   * split: the same classifier with the baseline refitted on the training and validation images.
   */
  refitBaselineOnAll?(): { trained: TrainedClassifier; refit: BaselineRefit };
}

/** What a classifier is made of, besides how it predicts. */
type ClassifierParts = Pick<TrainedClassifier, 'head' | 'segment' | 'phases' | 'fineTuneGate' | 'baseline'>;

const poolingBatch = 64;

/** Pooled outputs of the (still frozen) segment, computed in batches so activations never pile up. */
function pooledThrough(segment: tf.LayersModel, data: LabelledData, pooling: Pooling, compiled: boolean): LabelledData & { x: tf.Tensor2D } {
  const parts: tf.Tensor[] = [];
  const forward = layersForward(segment, compiled);
  try {
    for (let start = 0; start < data.labels.length; start += poolingBatch) {
      const size = Math.min(poolingBatch, data.labels.length - start);
      parts.push(tf.tidy(() => poolFeatureMap(forward.run(tf.slice(data.x, start, size) as tf.Tensor4D), pooling)));
    }
  } finally {
    forward.dispose();
  }
  const x = tf.concat(parts) as tf.Tensor2D;
  parts.forEach((t) => t.dispose());
  return { x, labels: data.labels };
}

function phaseOf(name: TrainingPhase['name'], options: FitOptions, result: FitResult, examples: number): TrainingPhase {
  const seconds = result.history.reduce((sum, log) => sum + log.seconds, 0);
  return {
    name,
    schedule: options.schedule.toConfig(),
    settings: {
      optimizer: options.optimizer,
      plateau: options.plateau ?? null,
      l2: options.l2,
      labelSmoothing: options.labelSmoothing,
      classWeights: options.classWeights,
      clipNorm: options.clipNorm,
      maxNonFiniteRecoveries: options.maxNonFiniteRecoveries,
    },
    history: result.history,
    bestEpoch: result.bestEpoch,
    warnings: result.warnings,
    recoveries: result.recoveries,
    imagesPerSecond: (examples * result.history.length) / Math.max(seconds, 1e-9),
  };
}

/** The fit options every phase shares, from the train.* settings. */
function sharedFitOptions(config: FinetuneConfig, logger: Logger): Omit<FitOptions, 'epochs' | 'schedule'> {
  const train = config.train;
  return {
    batchSize: train.batchSize,
    patience: train.patience,
    seed: train.seed,
    optimizer: { name: train.optimizer, momentum: train.momentum },
    plateau: train.plateauPatience > 0 ? { patience: train.plateauPatience, factor: train.plateauFactor } : undefined,
    l2: train.l2,
    labelSmoothing: train.labelSmoothing,
    classWeights: train.classWeights,
    clipNorm: train.clipNorm,
    maxNonFiniteRecoveries: train.maxNonFiniteRecoveries,
    onWarning: (warning) => logger.warn(warning.message),
  };
}

function scheduleFor(config: FinetuneConfig, initialRate: number, epochs: number): LearningRateSchedule {
  const { schedule, decayRate, stepSize, stepFactor, warmupEpochs } = config.train;
  return buildSchedule({ name: schedule, initialRate, epochs, decayRate, stepSize, stepFactor, warmupEpochs });
}

/** How the head phase trains, for `epochs` epochs: what doctor's short run uses too. */
export function headFitOptions(config: FinetuneConfig, logger: Logger, epochs: number): FitOptions {
  return { ...sharedFitOptions(config, logger), epochs, schedule: scheduleFor(config, config.train.learningRate, epochs) };
}

/** What the head phase leaves: the trained head, the head-only model's head (it, or the baseline that beat it), and how the head-only model scores. */
interface HeadPhase {
  /** Trained on the features (reads raw features): what fine-tuning starts from. */
  head: tf.Sequential;
  /** The head-only model's head: `head`, or the logistic regression baseline when the head did not beat it. */
  headOnly: tf.Sequential;
  baseline?: BaselineComparison;
  /** When the plan fine-tunes: which validation images the head-only model classifies right (what fine-tuning must beat). */
  headOnlyCorrect?: boolean[];
  /** When the plan fine-tunes: a copy of the trained head still reading standardized features, and their statistics. */
  fineTuneStart?: { head: tf.Sequential; stats: FeatureStatistics };
  /** When the baseline is the head-only model and may be refitted: the features it reads, training rows then validation rows. */
  baselineFeatures?: FeatureMatrix;
}

/**
 * The head on the frozen features (the segment's pooled output when the plan fine-tunes), learning
 * on standardized features (features of different depths and channels differ in scale by orders of
 * magnitude) with the standardization then folded into its weights; then, with a validation split,
 * the logistic regression baseline against it (headOrBaseline).
 */
async function trainHeadPhase(
  args: Parameters<typeof trainClassifier>[0],
  segment: tf.LayersModel | undefined,
  headOptions: FitOptions,
  phases: TrainingPhase[],
): Promise<HeadPhase> {
  const { plan, config, numClasses } = args;
  const compiled = config.runtime.compiledForward;
  const headInput = segment ? pooledThrough(segment, args.train, plan.pooling, compiled) : (args.train as LabelledData & { x: tf.Tensor2D });
  const headVal = segment && args.val ? pooledThrough(segment, args.val, plan.pooling, compiled) : (args.val as (LabelledData & { x: tf.Tensor2D }) | undefined);
  const head = buildConfiguredHead(config.train, headInput.x.shape[1], numClasses);
  const stats = featureStatistics(headInput.x);
  const standardTrain = { x: standardize(headInput.x, stats), labels: headInput.labels };
  const standardVal = headVal ? { x: standardize(headVal.x, stats), labels: headVal.labels } : undefined;
  try {
    assertFiniteInputs(standardTrain.x, 'training');
    if (standardVal) assertFiniteInputs(standardVal.x, 'validation');
    const headResult = await trainHead(head, standardTrain, standardVal, numClasses, headOptions);
    phases.push(phaseOf('head', headOptions, headResult, args.train.labels.length));
    // Fine-tuning starts from a copy still reading standardized features (fineTuneNetwork's standardization).
    const standardHead = segment ? copyOfHead(head, config, headInput.x.shape[1], numClasses) : undefined;
    const withStart = (phase: HeadPhase): HeadPhase => (standardHead ? { ...phase, fineTuneStart: { head: standardHead, stats: { mean: stats.mean.clone(), std: stats.std.clone() } } } : phase);
    foldStandardization(head, stats);
    if (!standardVal || !headVal || headVal.labels.length === 0) return withStart({ head, headOnly: head });
    const { head: headOnly, comparison: baseline } = config.train.baseline
      ? await headOrBaseline({ head, standardTrain, standardVal, rawVal: headVal, stats, numClasses })
      : { head, comparison: undefined };
    if (baseline) args.logger.info(`${baseline.reason} (The baseline's path: ${baseline.seconds.toFixed(1)} s.)`);
    const headOnlyCorrect = segment ? correctPredictions((await predictInBatches((x) => headOnly.predict(x) as tf.Tensor2D, headVal.x)).values, headVal.labels) : undefined;
    // Kept for the refit stage, so that it need not pool every image through the segment again.
    const baselineFeatures = headOnly !== head && config.train.refitBaseline ? featureRows([headInput.x, headVal.x]) : undefined;
    return withStart({ head, headOnly, ...(baseline ? { baseline } : {}), ...(headOnlyCorrect ? { headOnlyCorrect } : {}), ...(baselineFeatures ? { baselineFeatures } : {}) });
  } finally {
    tf.dispose([stats.mean, stats.std, standardTrain.x, ...(standardVal ? [standardVal.x] : [])]);
    if (segment) {
      headInput.x.dispose();
      headVal?.x.dispose();
    }
  }
}

/**
 * Head only (frozen base), or LP-FT: first the head on the frozen segment's pooled output, then
 * the segment and the head together, the segment at a lower rate, batch norm in inference mode.
 */
export async function trainClassifier(args: {
  plan: Plan;
  baseModel?: tf.LayersModel;
  train: LabelledData;
  val?: LabelledData;
  numClasses: number;
  config: FinetuneConfig;
  logger: Logger;
  /** More callbacks for each phase's fit (after progress), e.g. the run's per-epoch record. */
  callbacks?: (phase: TrainingPhase['name']) => TrainingCallback[];
  /** Where each phase checkpoints after every epoch (<dir>/<phase>.ckpt); none when undefined. */
  checkpointDir?: string;
  /** Continue from the checkpoints in checkpointDir. */
  resume?: boolean;
  /** Aborting stops training before the next step (TrainingInterrupted); the checkpoints stay. */
  signal?: AbortSignal;
  /** Shows each phase's batches, epoch and last losses as it trains. */
  progress?: Progress;
}): Promise<TrainedClassifier> {
  const { plan, config, logger } = args;
  const segment = plan.fineTune && args.baseModel ? segmentBetween(args.baseModel, plan.cutLayer, plan.fineTune.until, args.train.x.shape.slice(1)) : undefined;
  // The base's own file may mark layers frozen (nsfwjs froze everything up to block_10): the plan unfreezes every block of the segment.
  segment?.layers.forEach((layer) => (layer.trainable = true));
  const phases: TrainingPhase[] = [];
  const headOptions: FitOptions = { ...headFitOptions(config, logger, config.train.epochs), ...phaseFitOptions(args, 'head') };
  const { head, headOnly, baseline, headOnlyCorrect, fineTuneStart, baselineFeatures } = await trainHeadPhase(args, segment, headOptions, phases);
  if (!segment) {
    if (headOnly !== head) head.dispose();
    return classifierOf({ head: headOnly, phases, ...(baseline ? { baseline } : {}) }, args, baselineFeatures);
  }

  const start = fineTuneStart!;
  const network = fineTuneNetwork({
    segment,
    head: start.head,
    baseRateMultiplier: config.train.baseRateMultiplier,
    trainBatchNorm: config.train.trainBatchNorm,
    pooling: plan.pooling,
    standardization: start.stats,
  });
  const classifier = (gate?: FineTuneGate): TrainedClassifier => {
    // Kept: the fine-tuned head, its standardization folded in. Dropped: the head-only model (the
    // pretrained segment, restored, and the trained head or the baseline). No gate: only the head trained.
    const final = gate?.kept ? start.head : gate ? headOnly : head;
    if (final === start.head) foldStandardization(start.head, start.stats);
    for (const other of new Set([head, headOnly, start.head])) if (other !== final) other.dispose();
    return classifierOf({ head: final, segment, phases, ...(gate ? { fineTuneGate: gate } : {}), ...(baseline ? { baseline } : {}) }, args, baselineFeatures);
  };
  try {
    if (!headOnlyCorrect || !args.val) {
      logger.warn('The plan fine-tunes, but there are no validation images on which fine-tuning could earn its place: only the head was trained.');
      return classifier();
    }
    return classifier(await fineTunePhase(args, network, headOnlyCorrect, args.val, phases));
  } finally {
    tf.dispose([start.stats.mean, start.stats.std]);
  }
}

/** A head of the same shape with the same weights. */
function copyOfHead(head: tf.Sequential, config: FinetuneConfig, numFeatures: number, numClasses: number): tf.Sequential {
  const copy = buildConfiguredHead(config.train, numFeatures, numClasses);
  copy.setWeights(head.getWeights());
  return copy;
}

type TrainArgs = Parameters<typeof trainClassifier>[0];

/**
 * The classifier as the stages use it: the segment (when the plan fine-tunes: fine-tuned, or restored
 * when fine-tuning was dropped) and the head, predicting
 * on cached inputs; with `baselineFeatures`, it offers the baseline refitted on them when the baseline is its head.
 */
function classifierOf(parts: ClassifierParts, args: TrainArgs, baselineFeatures?: FeatureMatrix): TrainedClassifier {
  const { head, segment } = parts;
  const predict = segment ? fineTuneNetwork({ segment, head, baseRateMultiplier: 1, pooling: args.plan.pooling }).predict : (x: tf.Tensor) => head.predict(x) as tf.Tensor2D;
  const batchSize = segment ? poolingBatch : undefined;
  const classifier: TrainedClassifier = {
    ...parts,
    score: (data) => evaluateNetwork(predict, data, args.numClasses, batchSize),
    probabilities: async (x) => (await predictInBatches(predict, x, batchSize)).values,
  };
  const { val } = args;
  const headOnly = !segment || parts.fineTuneGate?.kept === false;
  if (parts.baseline?.winner === 'baseline' && headOnly && baselineFeatures && val) {
    classifier.refitBaselineOnAll = () => {
      const { head: refitted, refit } = refitBaseline(baselineFeatures, [...args.train.labels, ...val.labels], args.numClasses, parts.baseline!.strength, args.train.labels.length);
      return { trained: classifierOf({ ...parts, head: refitted }, args), refit };
    };
  }
  return classifier;
}

/** Rows of `parts` in order, as one matrix. */
function featureRows(parts: tf.Tensor2D[]): FeatureMatrix {
  const cols = parts[0].shape[1];
  const rows = parts.reduce((sum, part) => sum + part.shape[0], 0);
  const data = new Float64Array(rows * cols);
  let offset = 0;
  for (const part of parts) {
    data.set(part.dataSync(), offset);
    offset += part.size;
  }
  return { data, rows, cols };
}

/** What a run adds to each phase's fit: the abort signal, the phase's checkpoint, progress and the caller's callbacks. */
function phaseFitOptions(args: TrainArgs, phase: TrainingPhase['name']): Pick<FitOptions, 'signal' | 'checkpoint'> & { callbacks: TrainingCallback[] } {
  return {
    signal: args.signal,
    ...(args.checkpointDir ? { checkpoint: { file: path.join(args.checkpointDir, `${phase}.ckpt`), resume: args.resume } } : {}),
    callbacks: [new ProgressCallback(phase, args.logger, args.progress), ...(args.callbacks?.(phase) ?? [])],
  };
}

/**
 * The fine-tuning phase inside the keep-or-drop step: every epoch compared with the head-only model
 * on the validation images (and abandoned once it stalls below it), then kept or dropped (fineTuneGate).
 */
async function fineTunePhase(args: TrainArgs, network: TrainableNetwork, headOnlyCorrect: boolean[], val: LabelledData, phases: TrainingPhase[]): Promise<FineTuneGate> {
  const { config, numClasses } = args;
  assertFiniteInputs(args.train.x, 'training');
  const abandon = new EarlyAbandon();
  const phase = phaseFitOptions(args, 'fine-tune');
  const options: FitOptions = {
    ...sharedFitOptions(config, args.logger),
    ...phase,
    epochs: config.train.fineTuneEpochs,
    schedule: scheduleFor(config, config.train.fineTuneLearningRate, config.train.fineTuneEpochs),
    evaluationBatchSize: poolingBatch,
    validationReference: headOnlyCorrect,
    callbacks: [abandon, ...phase.callbacks],
  };
  const gate = await keepOrDropFineTuning({
    network,
    val,
    headOnlyCorrect,
    evaluationBatchSize: poolingBatch,
    fineTune: async () => {
      const result = await fit(network, args.train, val, numClasses, options);
      phases.push(phaseOf('fine-tune', options, result, args.train.labels.length));
      return abandon.abandoned;
    },
  });
  args.logger.info(gate.reason);
  return gate;
}
