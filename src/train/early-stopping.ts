import * as tf from '@tensorflow/tfjs';
import type { EpochLog } from './fit';
import type { TrainingCallback, TrainingLoop } from './training-callback';

/** Whatever holds the weights being trained (a LayersModel, or several behind one face). */
export interface WeightHolder {
  getWeights(): tf.Tensor[];
  setWeights(weights: tf.Tensor[]): void;
}

export interface EarlyStoppingState {
  bestLoss: number | null;
  waited: number;
  bestEpoch: number;
  stoppedEarly?: boolean;
}

/**
 * Stops when the monitored loss has not improved for `patience` epochs and can put back the
 * weights of the best epoch (tfjs' own EarlyStopping cannot restore them).
 */
export class EarlyStopping implements TrainingCallback {
  readonly stateKey = 'earlyStopping';
  private bestLoss = Infinity;
  private bestWeights: tf.Tensor[] | undefined;
  private waited = 0;
  bestEpoch = -1;
  /** True when training stopped before its last epoch. */
  stoppedEarly = false;

  constructor(
    private readonly model: WeightHolder,
    readonly patience: number,
    readonly minDelta = 0,
  ) {}

  /** Records an epoch's loss; returns true when training should stop. */
  update(epoch: number, loss: number): boolean {
    if (Number.isFinite(loss) && loss < this.bestLoss - this.minDelta) {
      this.bestLoss = loss;
      this.bestEpoch = epoch;
      this.waited = 0;
      this.bestWeights?.forEach((w) => w.dispose());
      this.bestWeights = this.model.getWeights().map((w) => w.clone());
      return false;
    }
    this.waited += 1;
    return this.waited >= this.patience;
  }

  /** Monitors the validation loss (the training loss without validation data). */
  onEpochEnd(log: EpochLog, loop: TrainingLoop): void {
    if (!this.update(log.epoch, log.valLoss ?? log.loss)) return;
    this.stoppedEarly = log.epoch < loop.epochs - 1;
    loop.stopTraining = true;
  }

  onTrainEnd(): void {
    this.restoreBest();
  }

  /** The counters a checkpoint needs to continue. */
  getState(): EarlyStoppingState {
    return { bestLoss: Number.isFinite(this.bestLoss) ? this.bestLoss : null, waited: this.waited, bestEpoch: this.bestEpoch, stoppedEarly: this.stoppedEarly };
  }

  /** The best weights so far (not copies: do not dispose). */
  getTensors(): tf.Tensor[] {
    return this.bestWeights ?? [];
  }

  /** Continues from a checkpoint; keeps copies of bestWeights. */
  setState(state: EarlyStoppingState, bestWeights: tf.Tensor[] = []): void {
    this.dispose();
    this.bestLoss = state.bestLoss ?? Infinity;
    this.waited = state.waited;
    this.bestEpoch = state.bestEpoch;
    this.stoppedEarly = state.stoppedEarly ?? false;
    this.bestWeights = bestWeights.length > 0 ? bestWeights.map((w) => w.clone()) : undefined;
  }

  /** Puts the best epoch's weights back into the model and releases the copies. */
  restoreBest(): void {
    if (this.bestWeights) this.model.setWeights(this.bestWeights);
    this.dispose();
  }

  dispose(): void {
    this.bestWeights?.forEach((w) => w.dispose());
    this.bestWeights = undefined;
  }
}
