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
  /** Consecutive epochs of validation loss rising while training loss falls before warning. Defaults to 3. */
  overfitEpochs?: number;
  /** Epochs after which predictions must have moved away from uniform. Defaults to 3. */
  uniformAfterEpochs?: number;
  /** Mean max-probability within this share of the way from 1/numClasses to 1 counts as near uniform. Defaults to 0.1. */
  uniformMargin?: number;
  /**
   * From the second epoch on, a training loss above this multiple of ln(numClasses) (the loss of uniform
   * guessing) counts as diverging. Defaults to 1.25.
   */
  divergingRatio?: number;
}

export interface TrainingMonitorState {
  overfitStreak: number;
  previous: { loss: number; valLoss: number | null } | null;
  warnedUniform: boolean;
  warnedDiverging?: boolean;
}

/** Watches epoch after epoch for divergence, overfitting and predictions stuck near uniform; returns each epoch's new warnings. */
export class TrainingMonitor {
  private overfitStreak = 0;
  private previous: TrainingMonitorState['previous'] = null;
  private warnedUniform = false;
  private warnedDiverging = false;
  private readonly overfitEpochs: number;
  private readonly uniformAfterEpochs: number;
  private readonly uniformMargin: number;

  constructor(private readonly settings: TrainingMonitorSettings) {
    this.overfitEpochs = settings.overfitEpochs ?? 3;
    this.uniformAfterEpochs = settings.uniformAfterEpochs ?? 3;
    this.uniformMargin = settings.uniformMargin ?? 0.1;
  }

  observe(signals: EpochSignals): TrainingWarning[] {
    const warnings: TrainingWarning[] = [];
    const { epoch, loss, valLoss } = signals;
    const chanceLoss = Math.log(this.settings.numClasses);
    if (!this.warnedDiverging && epoch >= 1 && !(loss <= (this.settings.divergingRatio ?? 1.25) * chanceLoss)) {
      this.warnedDiverging = true;
      warnings.push({
        epoch,
        kind: 'diverging',
        message:
          `training is diverging: the training loss ${loss.toFixed(4)} after ${epoch + 1} epochs is above ln(${this.settings.numClasses}) = ${chanceLoss.toFixed(4)}, ` +
          `the loss of guessing uniformly${signals.learningRate !== undefined ? `, at learning rate ${signals.learningRate.toPrecision(3)}` : ''}. ` +
          'The learning rate is most likely far too high: try 10x to 1000x lower (--learning-rate).',
      });
    }
    if (this.previous && valLoss !== undefined && this.previous.valLoss !== null) {
      const diverging = valLoss > this.previous.valLoss && loss < this.previous.loss;
      this.overfitStreak = diverging ? this.overfitStreak + 1 : 0;
      if (this.overfitStreak === this.overfitEpochs) {
        warnings.push({
          epoch,
          kind: 'overfitting',
          message:
            `overfitting: validation loss rose for ${this.overfitEpochs} epochs while training loss fell (now ${valLoss.toFixed(4)} vs ${loss.toFixed(4)}); ` +
            'early stopping keeps the best epoch. More data, more dropout (--dropout), L2 (--l2) or label smoothing (--label-smoothing) may help.',
        });
      }
    }
    this.previous = { loss, valLoss: valLoss ?? null };

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

  getState(): TrainingMonitorState {
    return { overfitStreak: this.overfitStreak, previous: this.previous && { ...this.previous }, warnedUniform: this.warnedUniform, warnedDiverging: this.warnedDiverging };
  }

  setState(state: TrainingMonitorState): void {
    this.overfitStreak = state.overfitStreak;
    this.previous = state.previous && { ...state.previous };
    this.warnedUniform = state.warnedUniform;
    this.warnedDiverging = state.warnedDiverging ?? false;
  }
}
