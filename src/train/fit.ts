import * as tf from '@tensorflow/tfjs';
import { TrainingInterrupted } from '../errors';
import { Checkpointing } from './checkpointing';
import { EarlyStopping, type WeightHolder } from './early-stopping';
import { LambdaCallback } from './lambda-callback';
import type { LearningRateSchedule } from './learning-rate-schedule';
import { classWeightsFor, crossEntropy } from './loss';
import { NonFiniteGuard, type NonFiniteRecovery } from './nan-guard';
import type { OptimizerSettings } from './optimizer';
import { ReduceOnPlateau } from './reduce-on-plateau';
import { shuffledIndices } from './seeded-random';
import { trainStep, type StepOutcome } from './train-step';
import { CallbackList, type TrainingCallback } from './training-callback';
import { TrainingHistory } from './training-history';
import { createTrainingLoop } from './training-loop';
import { TrainingMonitor, type TrainingMonitorSettings, type TrainingWarning } from './training-warnings';

export { crossEntropy };

export interface LabelledData {
  /** [examples, ...] features or activations */
  x: tf.Tensor;
  /** Class index of each example. */
  labels: number[];
}

/** What the loop trains: a training-mode forward pass, an inference pass, and its variables by group. */
export interface TrainableNetwork {
  /** Probabilities with dropout on (masks drawn from `random`); frozen parts stay in inference mode. */
  forwardTraining(x: tf.Tensor, random: () => number): tf.Tensor2D;
  /** Probabilities in inference mode. */
  predict(x: tf.Tensor): tf.Tensor2D;
  /** Variables by learning-rate group: pretrained layers learn slower than the head. */
  groups: { name: string; variables: tf.Variable[]; rateMultiplier: number }[];
  /** Everything whose weights early stopping saves and restores. */
  weights: WeightHolder;
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  schedule: LearningRateSchedule;
  /** Epochs without a lower validation loss before stopping. */
  patience: number;
  seed: number;
  /** Examples per inference batch when scoring (bounds memory for large activations). */
  evaluationBatchSize?: number;
  onEpoch?: (log: EpochLog) => void;
  /** Called after every training batch, counted from 1 within the epoch. */
  onBatch?: (epoch: number, batch: number, batchesPerEpoch: number) => void;
  /** Defaults to Adam. */
  optimizer?: OptimizerSettings;
  /** Multiplies the scheduled rate by `factor` when the validation loss has not improved for `patience` epochs. Defaults to off. */
  plateau?: { patience: number; factor: number };
  /** L2 weight decay on kernels: l2 * sum(w^2) is added to the loss. Defaults to 0. */
  l2?: number;
  /** Defaults to 0. */
  labelSmoothing?: number;
  /** 'balanced' weights each class by numExamples / (numClasses * examplesOfClass). Defaults to 'none'. */
  classWeights?: 'none' | 'balanced' | number[];
  /** Clip gradients to this global norm (0 = off). Defaults to 0. */
  clipNorm?: number;
  /**
   * Which validation images a reference model classifies right (fine-tuning's head-only model): each
   * epoch's log then counts the images only one of the two gets right (EpochLog.versusReference).
   */
  validationReference?: boolean[];
  /** Non-finite steps recovered from before training stops with a RuntimeFailure. Defaults to 5. */
  maxNonFiniteRecoveries?: number;
  /** Thresholds of the overfitting and uniform-prediction warnings. */
  warnings?: Omit<TrainingMonitorSettings, 'numClasses'>;
  onWarning?: (warning: TrainingWarning) => void;
  /**
   * A checkpoint file written after every epoch (atomically) and when the phase ends. With resume,
   * an existing checkpoint is continued from (or, if the phase had finished, its result is returned).
   */
  checkpoint?: { file: string; resume?: boolean };
  /** Aborting stops training before the next step with a TrainingInterrupted error; the last checkpoint stays. */
  signal?: AbortSignal;
  /** More callbacks (progress, records, diagnostics), called after the built-in ones and the checkpoint. */
  callbacks?: TrainingCallback[];
  /** The NaN/Inf guard rolls back non-finite steps. Defaults to true (doctor turns it off to see raw steps). */
  nonFiniteGuard?: boolean;
}

export interface EpochLog {
  epoch: number;
  /** The rate in effect: schedule x plateau reductions x NaN-guard halvings. */
  learningRate: number;
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  /** Mean largest predicted probability (validation data if any, else training batches): near 1/numClasses = undecided. */
  meanMaxProbability?: number;
  /** Against FitOptions.validationReference on the same validation images: b and c of a paired comparison. */
  versusReference?: { onlyReferenceRight: number; onlyThisRight: number };
  seconds: number;
}

export interface FitResult {
  history: EpochLog[];
  bestEpoch: number;
  stoppedEarly: boolean;
  /** Everything the monitor, the plateau reduction and the NaN guard warned about. */
  warnings: TrainingWarning[];
  /** Non-finite steps and what was done about each. */
  recoveries: NonFiniteRecovery[];
  /** Epochs at which the plateau reduction cut the rate, and the multiplier from then on. */
  rateReductions: { epoch: number; multiplier: number }[];
}

/** Loss and accuracy in inference mode, in batches. */
export function evaluateNetwork(
  predict: (x: tf.Tensor) => tf.Tensor2D,
  data: LabelledData,
  numClasses: number,
  batchSize = 256,
): { loss: number; accuracy: number; meanMaxProbability: number; correct: boolean[] } {
  let lossSum = 0;
  let maxProbabilitySum = 0;
  const correct: boolean[] = [];
  const n = data.labels.length;
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const [loss, maxProbability, ...hits] = tf.tidy(() => {
      const x = tf.slice(data.x, start, size);
      const labels = tf.tensor1d(data.labels.slice(start, start + size), 'int32');
      const probabilities = predict(x);
      const values = tf.concat([
        tf.stack([tf.mul(crossEntropy(probabilities, tf.oneHot(labels, numClasses) as tf.Tensor2D), size), tf.sum(tf.max(probabilities, 1))]),
        tf.cast(tf.equal(tf.argMax(probabilities, 1), labels), 'float32'),
      ]);
      return Array.from(values.dataSync());
    });
    lossSum += loss;
    maxProbabilitySum += maxProbability;
    hits.forEach((hit) => correct.push(hit === 1));
  }
  const count = Math.max(n, 1);
  const accuracy = correct.filter(Boolean).length / count;
  return { loss: lossSum / count, accuracy, meanMaxProbability: maxProbabilitySum / count, correct };
}

/** b and c of the paired comparison: images only the reference classifies right, and only the other model. */
export function pairedCounts(reference: boolean[], correct: boolean[]): NonNullable<EpochLog['versusReference']> {
  if (reference.length !== correct.length) {
    throw new Error(`a paired comparison needs both models scored on the same images; received ${reference.length} and ${correct.length}`);
  }
  let onlyReferenceRight = 0;
  let onlyThisRight = 0;
  reference.forEach((right, i) => {
    if (right && !correct[i]) onlyReferenceRight++;
    if (!right && correct[i]) onlyThisRight++;
  });
  return { onlyReferenceRight, onlyThisRight };
}

/**
 * The callbacks every fit runs, in event order: the record first, then what reads the epoch
 * (NaN guard, early stopping, plateau, warnings), the checkpoint, the caller's, the plain handlers.
 */
function fitCallbacks(network: TrainableNetwork, numClasses: number, options: FitOptions, history: TrainingHistory): TrainingCallback[] {
  const clipNorm = options.clipNorm ?? 0;
  return [
    history,
    ...(options.nonFiniteGuard === false ? [] : [new NonFiniteGuard(network.weights, { maxRecoveries: options.maxNonFiniteRecoveries ?? 5, clipNorm })]),
    new EarlyStopping(network.weights, options.patience),
    ...(options.plateau ? [new ReduceOnPlateau(options.plateau.patience, options.plateau.factor)] : []),
    new TrainingMonitor({ numClasses, ...options.warnings }),
    ...(options.checkpoint ? [new Checkpointing(options.checkpoint.file, options.checkpoint.resume ?? false)] : []),
    ...(options.callbacks ?? []),
    new LambdaCallback(options),
  ];
}

function interruption(epoch: number, checkpointFile: string | undefined): TrainingInterrupted {
  const kept = !checkpointFile
    ? 'nothing was checkpointed (no checkpoint file configured).'
    : epoch > 0
      ? `the checkpoint after epoch ${epoch} is in ${checkpointFile}.`
      : 'no epoch had finished, so there is no checkpoint yet.';
  return new TrainingInterrupted(`Training was interrupted during epoch ${epoch + 1}; ${kept}`);
}

/** Training loss and accuracy are running means over the epoch's batches (with dropout), as Keras reports them. */
function epochLog(
  epoch: number,
  learningRate: number,
  steps: StepOutcome[],
  valMetrics: ReturnType<typeof evaluateNetwork> | undefined,
  reference: boolean[] | undefined,
  started: number,
): EpochLog {
  const counted = steps.filter((step) => !step.failed);
  const examples = counted.reduce((sum, step) => sum + step.examples, 0);
  const total = (read: (step: StepOutcome) => number) => counted.reduce((sum, step) => sum + read(step), 0);
  return {
    epoch,
    learningRate,
    loss: examples > 0 ? total((step) => step.loss * step.examples) / examples : Number.NaN,
    accuracy: examples > 0 ? total((step) => step.hits) / examples : Number.NaN,
    ...(valMetrics ? { valLoss: valMetrics.loss, valAccuracy: valMetrics.accuracy } : {}),
    ...(valMetrics && reference ? { versusReference: pairedCounts(reference, valMetrics.correct) } : {}),
    meanMaxProbability: valMetrics ? valMetrics.meanMaxProbability : total((step) => step.maxProbability) / Math.max(examples, 1),
    seconds: (Date.now() - started) / 1000,
  };
}

/**
 * The training loop (Keras' Model.fit): each epoch a fresh shuffle, one trainStep per batch, then
 * the validation score; everything else (NaN guard, early stopping with the best weights restored,
 * plateau reduction, warnings, checkpoints, progress) is a callback called at fixed events.
 */
export async function fit(
  network: TrainableNetwork,
  train: LabelledData,
  val: LabelledData | undefined,
  numClasses: number,
  options: FitOptions,
): Promise<FitResult> {
  const history = new TrainingHistory();
  const callbacks = new CallbackList(fitCallbacks(network, numClasses, options, history));
  const loop = createTrainingLoop({
    ...options,
    network,
    callbacks,
    history,
    numClasses,
    examples: train.labels.length,
    optimizer: options.optimizer ?? { name: 'adam' },
    clipNorm: options.clipNorm ?? 0,
  });
  const settings = {
    numClasses,
    loss: { labelSmoothing: options.labelSmoothing ?? 0, classWeights: classWeightsFor(options.classWeights, train.labels, numClasses) },
    l2: options.l2 ?? 0,
  };
  const trainLabels = tf.tensor1d(train.labels, 'int32');
  try {
    await callbacks.onTrainBegin(loop);
    for (let epoch = loop.firstEpoch; epoch < options.epochs && !loop.stopTraining; epoch++) {
      const started = Date.now();
      const learningRate = loop.rateAt(epoch);
      loop.setLearningRate(learningRate);
      await callbacks.onEpochBegin(epoch, loop);
      const order = shuffledIndices(train.labels.length, loop.random);
      const steps: StepOutcome[] = [];
      for (let batch = 1; batch <= loop.batchesPerEpoch && !loop.stopTraining; batch++) {
        if (options.signal?.aborted) throw interruption(epoch, options.checkpoint?.file);
        const indices = order.slice((batch - 1) * options.batchSize, batch * options.batchSize);
        const outcome = tf.tidy(() => {
          const picked = tf.tensor1d(indices, 'int32');
          const batchData = { x: tf.gather(train.x, picked), labels: tf.gather(trainLabels, picked) as tf.Tensor1D };
          return trainStep(network, loop.optimizers, batchData, { ...settings, clipNorm: loop.clipNorm }, loop.random);
        });
        steps.push(outcome);
        await callbacks.onBatchEnd(epoch, batch, outcome, loop);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const valMetrics = val && val.labels.length > 0 ? evaluateNetwork(network.predict, val, numClasses, options.evaluationBatchSize) : undefined;
      await callbacks.onEpochEnd(epochLog(epoch, learningRate, steps, valMetrics, options.validationReference, started), loop);
    }
    await callbacks.onTrainEnd(loop);
  } finally {
    callbacks.dispose();
    loop.dispose();
    trainLabels.dispose();
  }
  const stopping = callbacks.find(EarlyStopping)!;
  const { recoveries = [] } = callbacks.find(NonFiniteGuard) ?? {};
  const { reductions = [] } = callbacks.find(ReduceOnPlateau) ?? {};
  return { history: history.epochs, bestEpoch: stopping.bestEpoch, stoppedEarly: stopping.stoppedEarly, warnings: history.warnings, recoveries, rateReductions: reductions };
}

/** Runs the head's layers; dropout masks come from the seeded generator so runs repeat. */
export function applyHeadTraining(head: tf.Sequential, x: tf.Tensor, random: () => number): tf.Tensor2D {
  let y = x;
  for (const layer of head.layers) {
    if (layer.getClassName() === 'Dropout') {
      const rate = (layer.getConfig() as { rate: number }).rate;
      if (rate > 0) y = tf.dropout(y, rate, undefined, Math.floor(random() * 2 ** 31));
    } else {
      y = layer.apply(y) as tf.Tensor;
    }
  }
  return y as tf.Tensor2D;
}

export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}
