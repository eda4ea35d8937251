import type * as tf from '@tensorflow/tfjs';
import type { TrainableNetwork } from './fit';
import type { LearningRateSchedule } from './learning-rate-schedule';
import { createOptimizer, type OptimizerSettings, type RatedOptimizer } from './optimizer';
import { seededRandom } from './seeded-random';
import type { CallbackList, TrainingLoop } from './training-callback';
import type { TrainingHistory } from './training-history';

export interface TrainingLoopArgs {
  network: TrainableNetwork;
  callbacks: CallbackList;
  history: TrainingHistory;
  numClasses: number;
  epochs: number;
  examples: number;
  batchSize: number;
  schedule: LearningRateSchedule;
  optimizer: OptimizerSettings;
  seed: number;
  /** Clipping configured (0 = off). */
  clipNorm: number;
}

/** The loop state `fit` shares with its callbacks, with one optimizer per variable group; dispose() releases the optimizers. */
export function createTrainingLoop(args: TrainingLoopArgs): TrainingLoop & { readonly optimizers: tf.Optimizer[]; dispose(): void } {
  const { network, callbacks, history } = args;
  let optimizers: RatedOptimizer[] = [];
  const rateMultiplier = () => callbacks.callbacks.reduce((product, callback) => product * (callback.rateMultiplier ?? 1), 1);
  const resetOptimizers = (rate: number) => {
    optimizers.forEach((optimizer) => optimizer.dispose());
    optimizers = network.groups.map((group) => createOptimizer(args.optimizer, rate * group.rateMultiplier));
  };
  const loop = {
    network,
    callbacks,
    numClasses: args.numClasses,
    epochs: args.epochs,
    batchesPerEpoch: Math.ceil(args.examples / args.batchSize),
    setup: JSON.stringify({
      examples: args.examples,
      numClasses: args.numClasses,
      shapes: network.groups.map((group) => group.variables.map((v) => v.shape)),
      optimizer: args.optimizer.name,
      schedule: args.schedule.toConfig(),
      batchSize: args.batchSize,
      checkpoint: 'callbacks',
    }),
    random: seededRandom(args.seed),
    firstEpoch: 0,
    stopTraining: false,
    get warnings() {
      return history.warnings;
    },
    warn: (warning: (typeof history.warnings)[number]) => history.warnings.push(warning),
    rateAt: (epoch: number) => args.schedule.rateAt(epoch) * rateMultiplier(),
    setLearningRate: (rate: number) => optimizers.forEach((optimizer, g) => optimizer.setLearningRate(rate * network.groups[g].rateMultiplier)),
    get clipNorm() {
      return Math.max(args.clipNorm, ...callbacks.callbacks.map((callback) => callback.clipNorm ?? 0));
    },
    get optimizers() {
      return optimizers.map((rated) => rated.optimizer);
    },
    resetOptimizers,
    saveOptimizers: () => Promise.all(optimizers.map((optimizer) => optimizer.saveState())),
    restoreOptimizers: async (states: tf.Tensor[][]) => {
      for (let g = 0; g < optimizers.length; g++) await optimizers[g].restoreState(states[g] ?? []);
    },
    dispose: () => optimizers.forEach((optimizer) => optimizer.dispose()),
  };
  resetOptimizers(args.schedule.rateAt(0));
  return loop;
}
