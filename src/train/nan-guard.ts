import * as tf from '@tensorflow/tfjs';
import { RuntimeFailure } from '../errors';
import type { WeightHolder } from './early-stopping';
import type { TrainingCallback, TrainingLoop } from './training-callback';
import type { StepOutcome } from './train-step';

/** One non-finite step and what was done about it. */
export interface NonFiniteRecovery {
  epoch: number;
  step: number;
  /** What was not finite: the loss, the global norm of the gradients, or the weights after an epoch. */
  quantity: 'loss' | 'gradient norm' | 'weights';
  value: number;
  /** Multiplier of the learning rate from then on (halved at each recovery). */
  rateMultiplier: number;
  /** Global-norm clipping in force from then on. */
  clipNorm: number;
}

export interface NonFiniteGuardState {
  recoveries: NonFiniteRecovery[];
  rateMultiplier: number;
  clipNorm: number;
}

export interface NonFiniteGuardSettings {
  /** Recoveries allowed; the next non-finite step stops training with a RuntimeFailure. */
  maxRecoveries: number;
  /** Clipping already configured (0 = off). */
  clipNorm: number;
  /** Global norm clipping is set to at the first recovery when it was off. Defaults to 1. */
  recoveryClipNorm?: number;
}

/**
 * The NaN/Inf guard: keeps the last good weights (taken at the start of every epoch), and on a
 * non-finite loss or gradient norm puts them back, halves the learning rate and turns on gradient
 * clipping; after `maxRecoveries` recoveries it gives up with an explanation.
 */
export class NonFiniteGuard implements TrainingCallback {
  readonly stateKey = 'guard';
  recoveries: NonFiniteRecovery[] = [];
  rateMultiplier = 1;
  clipNorm: number;
  private lastGood: tf.Tensor[] | undefined;

  constructor(
    private readonly weights: WeightHolder,
    private readonly settings: NonFiniteGuardSettings,
  ) {
    this.clipNorm = settings.clipNorm;
  }

  /** The first epoch run (fresh or resumed) starts from good weights. */
  onEpochBegin(): void {
    if (!this.lastGood) this.snapshot();
  }

  /** Rolls back a non-finite step; after the epoch's last step, checks the weights. */
  onBatchEnd(epoch: number, batch: number, outcome: StepOutcome, loop: TrainingLoop): void {
    if (outcome.failed) {
      const value = outcome.failed === 'loss' ? outcome.loss : outcome.gradientNorm;
      this.recovered(this.recover(epoch, batch - 1, outcome.failed, value), loop);
    }
    if (batch === loop.batchesPerEpoch) {
      const recovery = this.endEpoch(epoch, batch);
      if (recovery) this.recovered(recovery, loop);
    }
  }

  /** After a recovery the optimizers start afresh (their moments may hold the blow-up) at the halved rate. */
  private recovered(recovery: NonFiniteRecovery, loop: TrainingLoop): void {
    const rate = loop.rateAt(recovery.epoch);
    loop.resetOptimizers(rate);
    loop.warn({
      epoch: recovery.epoch,
      kind: 'non-finite',
      message:
        `non-finite ${recovery.quantity} (${recovery.value}) at epoch ${recovery.epoch + 1}, step ${recovery.step + 1}: restored the last good weights, ` +
        `learning rate now ${rate.toPrecision(3)} (x${recovery.rateMultiplier} of the schedule), gradients clipped to global norm ${recovery.clipNorm}`,
    });
  }

  /** Remembers the current weights as the last good ones. */
  snapshot(): void {
    this.lastGood?.forEach((w) => w.dispose());
    this.lastGood = this.weights.getWeights().map((w) => w.clone());
  }

  /** After an epoch: finite weights become the last good ones; otherwise a recovery (returned). */
  endEpoch(epoch: number, step: number): NonFiniteRecovery | undefined {
    const weights = this.weights.getWeights();
    const finite = tf.tidy(() => weights.every((w) => tf.all(tf.isFinite(w)).dataSync()[0] === 1));
    if (finite) {
      this.snapshot();
      return undefined;
    }
    return this.recover(epoch, step, 'weights', Number.NaN);
  }

  /**
   * Handles a non-finite step: restores the last good weights, halves the rate, turns on clipping.
   * Throws a RuntimeFailure when the recoveries are used up.
   */
  recover(epoch: number, step: number, quantity: NonFiniteRecovery['quantity'], value: number): NonFiniteRecovery {
    if (this.recoveries.length >= this.settings.maxRecoveries) {
      throw new RuntimeFailure(
        `Training diverged: the ${quantity} was ${value} at epoch ${epoch + 1}, step ${step + 1}, after ${this.recoveries.length} recoveries ` +
          `(each restored the last good weights, halved the learning rate and clipped gradients; the rate is now ${this.rateMultiplier} x the configured one). ` +
          'Lower --learning-rate (try 10x smaller), set --clip-norm 1, or run `finetune doctor --data DIR` to check the data for NaN or extreme values; ' +
          '--max-non-finite-recoveries allows more attempts.',
      );
    }
    if (this.lastGood) this.weights.setWeights(this.lastGood);
    this.rateMultiplier /= 2;
    if (!(this.clipNorm > 0)) this.clipNorm = this.settings.recoveryClipNorm ?? 1;
    const recovery = { epoch, step, quantity, value, rateMultiplier: this.rateMultiplier, clipNorm: this.clipNorm };
    this.recoveries.push(recovery);
    return recovery;
  }

  getState(): NonFiniteGuardState {
    return { recoveries: this.recoveries.map((r) => ({ ...r })), rateMultiplier: this.rateMultiplier, clipNorm: this.clipNorm };
  }

  onTrainEnd(): void {
    this.dispose();
  }

  setState(state: NonFiniteGuardState): void {
    this.recoveries = state.recoveries.map((r) => ({ ...r }));
    this.rateMultiplier = state.rateMultiplier;
    this.clipNorm = state.clipNorm;
  }

  dispose(): void {
    this.lastGood?.forEach((w) => w.dispose());
    this.lastGood = undefined;
  }
}

/** Refuses inputs holding NaN or +-Infinity (checked after normalization), naming how many and which. */
export function assertFiniteInputs(x: tf.Tensor, what: string): void {
  const indices: number[] = [];
  // In slices: the masks of large activations would otherwise cost as much memory as the activations.
  const slice = 256;
  for (let start = 0; start < x.shape[0]; start += slice) {
    const size = Math.min(slice, x.shape[0] - start);
    const flags = tf.tidy(() => tf.any(tf.logicalNot(tf.isFinite(tf.slice(x, start, size).reshape([size, -1]))), 1).dataSync());
    flags.forEach((flag, i) => flag && indices.push(start + i));
  }
  if (indices.length === 0) return;
  throw new RuntimeFailure(
    `${indices.length} of ${x.shape[0]} ${what} examples hold NaN or infinite values after normalization (examples ${indices.slice(0, 5).join(', ')}` +
      `${indices.length > 5 ? ', ...' : ''}). The frozen part produced non-finite activations: check those images and the base model ` +
      '(`finetune doctor --data DIR` lists unusable images); nothing was trained.',
  );
}
