import * as tf from '@tensorflow/tfjs';
import { RuntimeFailure, TrainingInterrupted } from '../errors';
import { readCheckpoint, writeCheckpoint, type TensorGroups } from './checkpoint';
import { EarlyStopping, type EarlyStoppingState, type WeightHolder } from './early-stopping';
import { clipByGlobalNorm, globalNorm } from './gradient-clipping';
import type { LearningRateSchedule } from './learning-rate-schedule';
import { balancedClassWeights, crossEntropy, isDecayedWeight, l2Penalty, trainingLoss } from './loss';
import { NonFiniteGuard, type NonFiniteGuardState, type NonFiniteRecovery } from './nan-guard';
import { createOptimizer, type OptimizerSettings, type RatedOptimizer } from './optimizer';
import { ReduceOnPlateau, type PlateauState } from './reduce-on-plateau';
import { seededRandom, shuffledIndices } from './seeded-random';
import { TrainingMonitor, type TrainingMonitorSettings, type TrainingMonitorState, type TrainingWarning } from './training-warnings';

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
  /** Asked after every epoch with the history so far (resumed epochs included): true stops training, the best weights restored. */
  stopWhen?: (history: EpochLog[]) => boolean;
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
): { loss: number; accuracy: number; meanMaxProbability: number } {
  let lossSum = 0;
  let correct = 0;
  let maxProbabilitySum = 0;
  const n = data.labels.length;
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const [loss, hits, maxProbability] = tf.tidy(() => {
      const x = tf.slice(data.x, start, size);
      const labels = tf.tensor1d(data.labels.slice(start, start + size), 'int32');
      const probabilities = predict(x);
      const values = tf.stack([
        tf.mul(crossEntropy(probabilities, tf.oneHot(labels, numClasses) as tf.Tensor2D), size),
        tf.sum(tf.cast(tf.equal(tf.argMax(probabilities, 1), labels), 'float32')),
        tf.sum(tf.max(probabilities, 1)),
      ]);
      return Array.from(values.dataSync());
    });
    lossSum += loss;
    correct += hits;
    maxProbabilitySum += maxProbability;
  }
  const count = Math.max(n, 1);
  return { loss: lossSum / count, accuracy: correct / count, meanMaxProbability: maxProbabilitySum / count };
}

/** Everything besides tensors that a checkpoint holds. */
interface FitCheckpointState {
  completed: boolean;
  /** Last finished epoch. */
  epoch: number;
  fingerprint: string;
  random: number;
  earlyStopping: EarlyStoppingState;
  plateau: PlateauState | null;
  guard: NonFiniteGuardState;
  monitor: TrainingMonitorState;
  history: EpochLog[];
  warnings: TrainingWarning[];
  rateReductions: FitResult['rateReductions'];
  stoppedEarly: boolean;
}

/** What must match for a checkpoint to be continued by this fit. */
function fingerprintOf(network: TrainableNetwork, train: LabelledData, numClasses: number, options: FitOptions): string {
  return JSON.stringify({
    examples: train.labels.length,
    numClasses,
    shapes: network.groups.map((group) => group.variables.map((v) => v.shape)),
    optimizer: options.optimizer?.name ?? 'adam',
    schedule: options.schedule.toConfig(),
    batchSize: options.batchSize,
  });
}

function classWeightsOf(option: FitOptions['classWeights'], labels: number[], numClasses: number): number[] | undefined {
  if (option === undefined || option === 'none') return undefined;
  if (option === 'balanced') return balancedClassWeights(labels, numClasses);
  return option;
}

/**
 * The training loop: an optimizer per variable group at the scheduled rate times the group's
 * multiplier (times plateau reductions and NaN-guard halvings), a fresh shuffle every epoch,
 * label smoothing, class weights, L2 decay, global-norm clipping, the NaN/Inf guard, warnings,
 * checkpoints, and early stopping on validation loss with the best weights restored.
 */
export async function fit(
  network: TrainableNetwork,
  train: LabelledData,
  val: LabelledData | undefined,
  numClasses: number,
  options: FitOptions,
): Promise<FitResult> {
  const random = seededRandom(options.seed);
  const optimizerSettings = options.optimizer ?? { name: 'adam' };
  const variables = network.groups.flatMap((group) => group.variables);
  const decayed = variables.filter(isDecayedWeight);
  const l2 = options.l2 ?? 0;
  const lossSettings = { labelSmoothing: options.labelSmoothing ?? 0, classWeights: classWeightsOf(options.classWeights, train.labels, numClasses) };
  const earlyStopping = new EarlyStopping(network.weights, options.patience);
  const plateau = options.plateau ? new ReduceOnPlateau(options.plateau.patience, options.plateau.factor) : undefined;
  const guard = new NonFiniteGuard(network.weights, { maxRecoveries: options.maxNonFiniteRecoveries ?? 5, clipNorm: options.clipNorm ?? 0 });
  const monitor = new TrainingMonitor({ numClasses, ...options.warnings });
  const fingerprint = fingerprintOf(network, train, numClasses, options);
  let optimizers: RatedOptimizer[] = [];
  const trainLabels = tf.tensor1d(train.labels, 'int32');
  let history: EpochLog[] = [];
  let warnings: TrainingWarning[] = [];
  let rateReductions: FitResult['rateReductions'] = [];
  let stoppedEarly = false;
  let firstEpoch = 0;

  const rateAt = (epoch: number) => options.schedule.rateAt(epoch) * (plateau?.multiplier ?? 1) * guard.rateMultiplier;
  const setRates = (rate: number) => optimizers.forEach((optimizer, g) => optimizer.setLearningRate(rate * network.groups[g].rateMultiplier));
  const freshOptimizers = (rate: number) => {
    optimizers.forEach((optimizer) => optimizer.dispose());
    optimizers = network.groups.map((group) => createOptimizer(optimizerSettings, rate * group.rateMultiplier));
  };
  const warn = (warning: TrainingWarning) => {
    warnings.push(warning);
    options.onWarning?.(warning);
  };
  /** After a recovery the optimizers start afresh (their moments may hold the blow-up) at the halved rate. */
  const recovered = (recovery: NonFiniteRecovery, epoch: number) => {
    freshOptimizers(rateAt(epoch));
    warn({
      epoch,
      kind: 'non-finite',
      message:
        `non-finite ${recovery.quantity} (${recovery.value}) at epoch ${recovery.epoch + 1}, step ${recovery.step + 1}: restored the last good weights, ` +
        `learning rate now ${rateAt(epoch).toPrecision(3)} (x${recovery.rateMultiplier} of the schedule), gradients clipped to global norm ${recovery.clipNorm}`,
    });
  };
  const result = (): FitResult => ({ history, bestEpoch: earlyStopping.bestEpoch, stoppedEarly, warnings, recoveries: guard.recoveries, rateReductions });

  const saveCheckpoint = async (epoch: number, completed: boolean) => {
    if (!options.checkpoint) return;
    const optimizerStates = completed ? [] : await Promise.all(optimizers.map((optimizer) => optimizer.saveState()));
    try {
      const stopping = earlyStopping.getState();
      const groups: TensorGroups = { weights: network.weights.getWeights(), best: completed ? [] : stopping.bestWeights };
      optimizerStates.forEach((state, g) => (groups[`optimizer_${g}`] = state));
      const state: FitCheckpointState = {
        completed,
        epoch,
        fingerprint,
        random: random.getState(),
        earlyStopping: stopping.state,
        plateau: plateau?.getState() ?? null,
        guard: guard.getState(),
        monitor: monitor.getState(),
        history,
        warnings,
        rateReductions,
        stoppedEarly,
      };
      writeCheckpoint(options.checkpoint.file, state, groups);
    } finally {
      optimizerStates.forEach((state) => tf.dispose(state));
    }
  };

  /** Continues from the checkpoint; returns true when it holds a finished phase. */
  const resume = async (): Promise<boolean> => {
    const saved = options.checkpoint?.resume ? readCheckpoint<FitCheckpointState>(options.checkpoint.file) : undefined;
    if (!saved) return false;
    const { state, tensors } = saved;
    try {
      if (state.fingerprint !== fingerprint) {
        throw new RuntimeFailure(
          `The checkpoint ${options.checkpoint!.file} was written by a different training setup (${state.fingerprint}; now ${fingerprint}); it cannot be continued. Start a new run instead of --resume.`,
        );
      }
      network.weights.setWeights(tensors.weights);
      history = state.history;
      warnings = state.warnings;
      rateReductions = state.rateReductions;
      stoppedEarly = state.stoppedEarly;
      earlyStopping.setState(state.earlyStopping, tensors.best);
      guard.setState(state.guard);
      if (state.completed) return true;
      random.setState(state.random);
      if (plateau && state.plateau) plateau.setState(state.plateau);
      monitor.setState(state.monitor);
      firstEpoch = state.epoch + 1;
      freshOptimizers(rateAt(firstEpoch));
      for (let g = 0; g < optimizers.length; g++) await optimizers[g].restoreState(tensors[`optimizer_${g}`] ?? []);
      return false;
    } finally {
      Object.values(tensors).forEach((list) => tf.dispose(list));
    }
  };

  try {
    if (await resume()) return result();
    if (optimizers.length === 0) freshOptimizers(rateAt(0));
    guard.snapshot();
    for (let epoch = firstEpoch; epoch < options.epochs && !stoppedEarly; epoch++) {
      const started = Date.now();
      const learningRate = rateAt(epoch);
      setRates(learningRate);
      const order = shuffledIndices(train.labels.length, random);
      // Training loss and accuracy are running means over the epoch's batches (with dropout), as Keras
      // reports them: a second pass over the training set would cost a third of the epoch again.
      let lossSum = 0;
      let correct = 0;
      let maxProbabilitySum = 0;
      let counted = 0;
      let step = 0;
      for (let start = 0; start < order.length; start += options.batchSize, step++) {
        if (options.signal?.aborted) {
          const kept = !options.checkpoint
            ? 'nothing was checkpointed (no checkpoint file configured).'
            : epoch > 0
              ? `the checkpoint after epoch ${epoch} is in ${options.checkpoint.file}.`
              : 'no epoch had finished, so there is no checkpoint yet.';
          throw new TrainingInterrupted(`Training was interrupted during epoch ${epoch + 1}; ${kept}`);
        }
        const batch = order.slice(start, start + options.batchSize);
        const outcome = tf.tidy(() => {
          const indices = tf.tensor1d(batch, 'int32');
          const x = tf.gather(train.x, indices);
          const labels = tf.gather(trainLabels, indices) as tf.Tensor1D;
          let readouts: tf.Tensor | undefined;
          const { value, grads } = tf.variableGrads(() => {
            const probabilities = network.forwardTraining(x, random);
            readouts = tf.keep(tf.stack([tf.sum(tf.cast(tf.equal(tf.argMax(probabilities, 1), labels), 'float32')), tf.sum(tf.max(probabilities, 1))]));
            const loss = trainingLoss(probabilities, labels, numClasses, lossSettings);
            return l2 > 0 ? (tf.add(loss, l2Penalty(decayed, l2)) as tf.Scalar) : loss;
          }, variables);
          const gradients = variables.map((v) => grads[v.name]);
          const norm = globalNorm(gradients);
          const [loss, gradientNorm, hits, maxProbability] = tf.concat([tf.stack([value, norm]), readouts!]).dataSync();
          readouts!.dispose();
          if (!Number.isFinite(loss)) return { failed: 'loss' as const, value: loss };
          if (!Number.isFinite(gradientNorm)) return { failed: 'gradient norm' as const, value: gradientNorm };
          const applied = guard.clipNorm > 0 ? clipByGlobalNorm(gradients, guard.clipNorm, norm) : gradients;
          let offset = 0;
          network.groups.forEach((group, g) => {
            optimizers[g].optimizer.applyGradients(group.variables.map((v, i) => ({ name: v.name, tensor: applied[offset + i] })));
            offset += group.variables.length;
          });
          return { failed: undefined, loss, hits, maxProbability };
        });
        if (outcome.failed) {
          const recovery = guard.recover(epoch, step, outcome.failed, outcome.value);
          recovered(recovery, epoch);
        } else {
          lossSum += outcome.loss * batch.length;
          correct += outcome.hits;
          maxProbabilitySum += outcome.maxProbability;
          counted += batch.length;
        }
        options.onBatch?.(epoch, step + 1, Math.ceil(order.length / options.batchSize));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const weightsRecovery = guard.endEpoch(epoch, step);
      if (weightsRecovery) recovered(weightsRecovery, epoch);
      const valMetrics = val && val.labels.length > 0 ? evaluateNetwork(network.predict, val, numClasses, options.evaluationBatchSize) : undefined;
      const log: EpochLog = {
        epoch,
        learningRate,
        loss: counted > 0 ? lossSum / counted : Number.NaN,
        accuracy: counted > 0 ? correct / counted : Number.NaN,
        ...(valMetrics ? { valLoss: valMetrics.loss, valAccuracy: valMetrics.accuracy } : {}),
        meanMaxProbability: valMetrics ? valMetrics.meanMaxProbability : maxProbabilitySum / Math.max(counted, 1),
        seconds: (Date.now() - started) / 1000,
      };
      history.push(log);
      const monitored = log.valLoss ?? log.loss;
      if (earlyStopping.update(epoch, monitored)) stoppedEarly = epoch < options.epochs - 1;
      if (!stoppedEarly && options.stopWhen?.(history)) stoppedEarly = epoch < options.epochs - 1;
      const epochWarnings: TrainingWarning[] = [];
      if (plateau?.update(monitored)) {
        rateReductions.push({ epoch, multiplier: plateau.multiplier });
        epochWarnings.push({
          epoch,
          kind: 'plateau',
          message: `loss on a plateau: no lower ${log.valLoss !== undefined ? 'validation ' : ''}loss for ${plateau.patience} epochs, learning rate x${plateau.factor} (${rateAt(epoch + 1).toPrecision(3)} from the next epoch)`,
        });
      }
      epochWarnings.push(...monitor.observe({ epoch, loss: log.loss, valLoss: log.valLoss, meanMaxProbability: log.meanMaxProbability, learningRate }));
      warnings.push(...epochWarnings);
      // Checkpoint first: once an epoch is reported, it can be resumed from.
      await saveCheckpoint(epoch, false);
      options.onEpoch?.(log);
      epochWarnings.forEach((warning) => options.onWarning?.(warning));
    }
    earlyStopping.restoreBest();
    await saveCheckpoint(history.length - 1, true);
  } finally {
    earlyStopping.dispose();
    guard.dispose();
    trainLabels.dispose();
    optimizers.forEach((optimizer) => optimizer.dispose());
  }
  return result();

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
