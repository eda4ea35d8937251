import * as tf from '@tensorflow/tfjs';
import { RuntimeFailure } from '../errors';
import { readCheckpoint, writeCheckpoint, type TensorGroups } from './checkpoint';
import type { EpochLog } from './fit';
import type { TrainingCallback, TrainingLoop } from './training-callback';

/** Everything besides tensors that a checkpoint holds: the loop's position and each stateful callback's state by its key. */
interface CheckpointState {
  completed: boolean;
  /** Last finished epoch. */
  epoch: number;
  setup: string;
  random: number;
  callbacks: Record<string, unknown>;
}

/**
 * Keras' BackupAndRestore: writes a checkpoint (atomically) after every epoch and when training ends,
 * built from the loop and the callback list; with `resume`, continues from an existing one (or, if
 * its training had finished, puts back its result and stops the loop before the first epoch).
 */
export class Checkpointing implements TrainingCallback {
  private epoch = -1;
  private finished = false;

  constructor(
    readonly file: string,
    private readonly resume: boolean,
  ) {}

  async onTrainBegin(loop: TrainingLoop): Promise<void> {
    const saved = this.resume ? readCheckpoint<CheckpointState>(this.file) : undefined;
    if (!saved) return;
    const { state, tensors } = saved;
    try {
      if (state.setup !== loop.setup) {
        throw new RuntimeFailure(
          `The checkpoint ${this.file} was written by a different training setup (${state.setup}; now ${loop.setup}); it cannot be continued. Start a new run instead of --resume.`,
        );
      }
      loop.network.weights.setWeights(tensors.weights);
      for (const callback of loop.callbacks.stateful()) {
        if (state.callbacks[callback.stateKey] !== undefined) callback.setState?.(state.callbacks[callback.stateKey], tensors[callback.stateKey] ?? []);
      }
      this.epoch = state.epoch;
      if (state.completed) {
        this.finished = true;
        loop.stopTraining = true;
        return;
      }
      loop.random.setState(state.random);
      loop.firstEpoch = state.epoch + 1;
      loop.resetOptimizers(loop.rateAt(loop.firstEpoch));
      await loop.restoreOptimizers(loop.network.groups.map((_, g) => tensors[`optimizer_${g}`] ?? []));
    } finally {
      Object.values(tensors).forEach((list) => tf.dispose(list));
    }
  }

  /** Checkpoints first: once an epoch is reported, it can be resumed from. */
  async onEpochEnd(log: EpochLog, loop: TrainingLoop): Promise<void> {
    this.epoch = log.epoch;
    await this.save(loop, false);
  }

  async onTrainEnd(loop: TrainingLoop): Promise<void> {
    if (!this.finished) await this.save(loop, true);
  }

  private async save(loop: TrainingLoop, completed: boolean): Promise<void> {
    const optimizerStates = completed ? [] : await loop.saveOptimizers();
    try {
      const groups: TensorGroups = { weights: loop.network.weights.getWeights() };
      optimizerStates.forEach((state, g) => (groups[`optimizer_${g}`] = state));
      const callbacks: Record<string, unknown> = {};
      for (const callback of loop.callbacks.stateful()) {
        callbacks[callback.stateKey] = callback.getState?.();
        groups[callback.stateKey] = callback.getTensors?.() ?? [];
      }
      const state: CheckpointState = { completed, epoch: this.epoch, setup: loop.setup, random: loop.random.getState(), callbacks };
      writeCheckpoint(this.file, state, groups);
    } finally {
      optimizerStates.forEach((state) => tf.dispose(state));
    }
  }
}
