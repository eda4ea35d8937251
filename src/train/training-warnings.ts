import type { EpochLog } from './fit';
import type { TrainingCallback, TrainingLoop } from './training-callback';

/** What the tuning guide warns about while training. */
export type TrainingWarningKind = 'overfitting' | 'plateau' | 'uniform-predictions' | 'diverging' | 'non-finite';

export interface TrainingWarning {
  /** 0-based epoch the warning was raised at. */
  epoch: number;
  kind: TrainingWarningKind;
  message: string;
}

/** What the monitor reads from each epoch. */
export interface EpochSignals {
  epoch: number;
  loss: number;
  valLoss?: number;
  /** Mean over examples of the largest predicted probability. */
  meanMaxProbability?: number;
  /** The rate in effect (quoted by the divergence warning). */
  learningRate?: number;
}

export interface TrainingMonitorSettings {
  numClasses: number;
  /**
   * Warn when, compared with this many epochs earlier, validation loss rose (and is no new best) while
   * training loss fell; once per stretch without a new best. Defaults to 3.
   */
  overfitEpochs?: number;
  /** Smallest relative rise of the validation loss over that window that counts (noise near zero loss does not). Defaults to 0.1. */
  overfitMinRise?: number;
  /** Epochs after which predictions must have moved away from uniform. Defaults to 3. */
  uniformAfterEpochs?: number;
  /** Mean max-probability within this share of the way from 1/numClasses to 1 counts as near uniform. Defaults to 0.1. */
  uniformMargin?: number;
  /**
   * From the second epoch on, a training loss above the first epoch's and above this multiple of
   * ln(numClasses) (the loss of uniform guessing) counts as diverging. Defaults to 1.25.
   */
  divergingRatio?: number;
}

export interface TrainingMonitorState {
  /** The last overfitEpochs epochs' losses. */
  recent: { loss: number; valLoss: number | null }[];
  bestValLoss: number | null;
  warnedOverfitting: boolean;
  warnedUniform: boolean;
  warnedDiverging?: boolean;
  firstLoss?: number | null;
}

/** Watches epoch after epoch for divergence, overfitting and predictions stuck near uniform; returns each epoch's new warnings. */
export class TrainingMonitor implements TrainingCallback {
  readonly stateKey = 'monitor';
  private recent: TrainingMonitorState['recent'] = [];
  private bestValLoss = Infinity;
  private warnedOverfitting = false;
  private warnedUniform = false;
  private warnedDiverging = false;
  private firstLoss: number | null = null;
  private readonly overfitEpochs: number;
  private readonly overfitMinRise: number;
  private readonly uniformAfterEpochs: number;
  private readonly uniformMargin: number;

  constructor(private readonly settings: TrainingMonitorSettings) {
    this.overfitEpochs = settings.overfitEpochs ?? 3;
    this.overfitMinRise = settings.overfitMinRise ?? 0.1;
    this.uniformAfterEpochs = settings.uniformAfterEpochs ?? 3;
    this.uniformMargin = settings.uniformMargin ?? 0.1;
  }

  observe(signals: EpochSignals): TrainingWarning[] {
    const warnings: TrainingWarning[] = [];
    const { epoch, loss, valLoss } = signals;
    const chanceLoss = Math.log(this.settings.numClasses);
    if (this.firstLoss === null) this.firstLoss = loss;
    const aboveChance = !(loss <= (this.settings.divergingRatio ?? 1.25) * chanceLoss);
    if (!this.warnedDiverging && epoch >= 1 && aboveChance && !(loss <= this.firstLoss)) {
      this.warnedDiverging = true;
      warnings.push({
        epoch,
        kind: 'diverging',
        message:
          `training is diverging: the training loss rose to ${loss.toFixed(4)} after ${epoch + 1} epochs (first epoch ${this.firstLoss.toFixed(4)}), ` +
          `above ln(${this.settings.numClasses}) = ${chanceLoss.toFixed(4)}, the loss of guessing uniformly${signals.learningRate !== undefined ? `, at learning rate ${signals.learningRate.toPrecision(3)}` : ''}. ` +
          'The learning rate is most likely far too high: try 10x to 1000x lower (--learning-rate).',
      });
    }
    if (valLoss !== undefined) {
      // Over a window rather than epoch by epoch: the training loss of one epoch is noisy (dropout, shuffling).
      const before = this.recent.length >= this.overfitEpochs ? this.recent[this.recent.length - this.overfitEpochs] : undefined;
      if (valLoss < this.bestValLoss) {
        this.bestValLoss = valLoss;
        this.warnedOverfitting = false;
      } else if (!this.warnedOverfitting && before && before.valLoss !== null && valLoss > before.valLoss * (1 + this.overfitMinRise) && loss < before.loss) {
        this.warnedOverfitting = true;
        warnings.push({
          epoch,
          kind: 'overfitting',
          message:
            `overfitting: over the last ${this.overfitEpochs} epochs validation loss rose (${before.valLoss.toFixed(4)} -> ${valLoss.toFixed(4)}) while training loss fell ` +
            `(${before.loss.toFixed(4)} -> ${loss.toFixed(4)}); early stopping keeps the best epoch. More data, more dropout (--dropout), L2 (--l2) or label smoothing (--label-smoothing) may help.`,
        });
      }
    }
    this.recent = [...this.recent, { loss, valLoss: valLoss ?? null }].slice(-this.overfitEpochs);

    const uniform = 1 / this.settings.numClasses;
    const probability = signals.meanMaxProbability;
    if (!this.warnedUniform && probability !== undefined && epoch + 1 >= this.uniformAfterEpochs && probability < uniform + this.uniformMargin * (1 - uniform)) {
      this.warnedUniform = true;
      warnings.push({
        epoch,
        kind: 'uniform-predictions',
        message:
          `predictions stay near uniform after ${epoch + 1} epochs: the mean top probability is ${probability.toFixed(3)} for ${this.settings.numClasses} classes ` +
          `(chance ${uniform.toFixed(3)}), instead of moving towards 1. The learning rate may be too low, the features uninformative, or the labels shuffled.`,
      });
    }
    return warnings;
  }

  onEpochEnd(log: EpochLog, loop: TrainingLoop): void {
    const { epoch, loss, valLoss, meanMaxProbability, learningRate } = log;
    this.observe({ epoch, loss, valLoss, meanMaxProbability, learningRate }).forEach((warning) => loop.warn(warning));
  }

  getState(): TrainingMonitorState {
    return {
      recent: this.recent.map((entry) => ({ ...entry })),
      bestValLoss: Number.isFinite(this.bestValLoss) ? this.bestValLoss : null,
      warnedOverfitting: this.warnedOverfitting,
      warnedUniform: this.warnedUniform, warnedDiverging: this.warnedDiverging, firstLoss: this.firstLoss };
  }

  setState(state: TrainingMonitorState): void {
    this.recent = state.recent.map((entry) => ({ ...entry }));
    this.bestValLoss = state.bestValLoss ?? Infinity;
    this.warnedOverfitting = state.warnedOverfitting;
    this.warnedUniform = state.warnedUniform;
    this.warnedDiverging = state.warnedDiverging ?? false;
    this.firstLoss = state.firstLoss ?? null;
  }
}
