import type * as tf from '@tensorflow/tfjs';
import type { EpochLog, TrainableNetwork } from './fit';
import type { SeededRandom } from './seeded-random';
import type { StepOutcome } from './train-step';
import type { TrainingWarning } from './training-warnings';

/** What `fit` shares with its callbacks while it trains (Keras' `self.model` plus `stop_training`). */
export interface TrainingLoop {
  readonly network: TrainableNetwork;
  /** Every callback of this fit (checkpoints read and restore their state). */
  readonly callbacks: CallbackList;
  readonly numClasses: number;
  readonly epochs: number;
  readonly batchesPerEpoch: number;
  /** What must match for a checkpoint to be continued (examples, shapes, optimizer, schedule, batch size). */
  readonly setup: string;
  /** Shuffles and dropout masks; its state goes into checkpoints. */
  readonly random: SeededRandom;
  /** The first epoch to run: 0, or the one after a resumed checkpoint. */
  firstEpoch: number;
  /** Set by a callback to stop after the current step. */
  stopTraining: boolean;
  /** Everything warned about so far (callbacks add through warn). */
  readonly warnings: TrainingWarning[];
  warn(warning: TrainingWarning): void;
  /** The rate in effect at an epoch: the schedule times every callback's rateMultiplier. */
  rateAt(epoch: number): number;
  /** Sets the rate of the next steps (each group at its multiplier). */
  setLearningRate(rate: number): void;
  /** Global-norm clipping of the step: the configured one, or more where a callback turned it on. */
  readonly clipNorm: number;
  /** Fresh optimizers at `rate` (after a roll-back their moments may hold the blow-up). */
  resetOptimizers(rate: number): void;
  /** The optimizers' internal state, one list per group; the caller disposes the copies. */
  saveOptimizers(): Promise<tf.Tensor[][]>;
  restoreOptimizers(states: tf.Tensor[][]): Promise<void>;
}

/**
 * A callback of the training loop, called at fixed events as Keras' and tfjs-layers' callbacks are.
 * Callbacks with state name it with `stateKey`; checkpoints save and restore that state through
 * getState/getTensors/setState, so a checkpoint is built from the callback list.
 */
export interface TrainingCallback {
  /** Key of the callback's state in a checkpoint; absent when it keeps none. */
  readonly stateKey?: string;
  /** A factor on the scheduled learning rate (plateau reductions, NaN-guard halvings). */
  readonly rateMultiplier?: number;
  /** Global-norm clipping this callback asks for (0 = none). */
  readonly clipNorm?: number;
  onTrainBegin?(loop: TrainingLoop): void | Promise<void>;
  onEpochBegin?(epoch: number, loop: TrainingLoop): void | Promise<void>;
  /** After every step; `batch` counts from 1 within the epoch. */
  onBatchEnd?(epoch: number, batch: number, outcome: StepOutcome, loop: TrainingLoop): void | Promise<void>;
  onEpochEnd?(log: EpochLog, loop: TrainingLoop): void | Promise<void>;
  onTrainEnd?(loop: TrainingLoop): void | Promise<void>;
  /** JSON-serializable state. */
  getState?(): unknown;
  /** Tensors the state needs (not copies: the callback keeps owning them). */
  getTensors?(): tf.Tensor[];
  /** Continues from saved state; the callback copies the tensors it keeps. */
  setState?(state: unknown, tensors: tf.Tensor[]): void;
  /** Releases what the callback holds (called once, after training or on failure). */
  dispose?(): void;
}

/** The callbacks of one fit, called in order at each event. */
export class CallbackList {
  constructor(readonly callbacks: TrainingCallback[]) {}

  /** The first callback of a class, for reading its results after training. */
  find<T extends TrainingCallback>(kind: abstract new (...args: never[]) => T): T | undefined {
    return this.callbacks.find((callback): callback is T => callback instanceof kind);
  }

  stateful(): (TrainingCallback & { stateKey: string })[] {
    return this.callbacks.filter((callback): callback is TrainingCallback & { stateKey: string } => callback.stateKey !== undefined);
  }

  async onTrainBegin(loop: TrainingLoop): Promise<void> {
    for (const callback of this.callbacks) await callback.onTrainBegin?.(loop);
  }

  async onEpochBegin(epoch: number, loop: TrainingLoop): Promise<void> {
    for (const callback of this.callbacks) await callback.onEpochBegin?.(epoch, loop);
  }

  async onBatchEnd(epoch: number, batch: number, outcome: StepOutcome, loop: TrainingLoop): Promise<void> {
    for (const callback of this.callbacks) await callback.onBatchEnd?.(epoch, batch, outcome, loop);
  }

  async onEpochEnd(log: EpochLog, loop: TrainingLoop): Promise<void> {
    for (const callback of this.callbacks) await callback.onEpochEnd?.(log, loop);
  }

  async onTrainEnd(loop: TrainingLoop): Promise<void> {
    for (const callback of this.callbacks) await callback.onTrainEnd?.(loop);
  }

  dispose(): void {
    for (const callback of this.callbacks) callback.dispose?.();
  }
}
