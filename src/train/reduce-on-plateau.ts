import type { EpochLog } from './fit';
import type { TrainingCallback, TrainingLoop } from './training-callback';

export interface PlateauState {
  bestLoss: number | null;
  waited: number;
  multiplier: number;
  /** Epochs at which the rate was cut, and the multiplier from then on. */
  reductions?: { epoch: number; multiplier: number }[];
}

/**
 * Keras' ReduceLROnPlateau as a multiplier on the schedule: when the monitored loss has not improved
 * for `patience` epochs, the multiplier is scaled by `factor` and the wait starts over.
 */
export class ReduceOnPlateau implements TrainingCallback {
  readonly stateKey = 'plateau';
  private bestLoss = Infinity;
  private waited = 0;
  /** What the scheduled rate is multiplied by. */
  multiplier = 1;
  /** Epochs at which the rate was cut, and the multiplier from then on. */
  reductions: { epoch: number; multiplier: number }[] = [];

  constructor(
    readonly patience: number,
    readonly factor: number,
    readonly minDelta = 0,
  ) {
    if (!(Number.isInteger(patience) && patience > 0)) throw new Error(`Received patience=${patience}. Expected a positive integer.`);
    if (!(factor > 0 && factor < 1)) throw new Error(`Received factor=${factor}. Expected a number in (0, 1).`);
  }

  /** Records an epoch's loss; returns true when the rate was just reduced. */
  update(loss: number): boolean {
    if (Number.isFinite(loss) && loss < this.bestLoss - this.minDelta) {
      this.bestLoss = loss;
      this.waited = 0;
      return false;
    }
    this.waited += 1;
    if (this.waited < this.patience) return false;
    this.multiplier *= this.factor;
    this.waited = 0;
    return true;
  }

  get rateMultiplier(): number {
    return this.multiplier;
  }

  /** Watches the validation loss (the training loss without validation data); warns at each cut. */
  onEpochEnd(log: EpochLog, loop: TrainingLoop): void {
    if (!this.update(log.valLoss ?? log.loss)) return;
    this.reductions.push({ epoch: log.epoch, multiplier: this.multiplier });
    loop.warn({
      epoch: log.epoch,
      kind: 'plateau',
      message: `loss on a plateau: no lower ${log.valLoss !== undefined ? 'validation ' : ''}loss for ${this.patience} epochs, learning rate x${this.factor} (${loop.rateAt(log.epoch + 1).toPrecision(3)} from the next epoch)`,
    });
  }

  getState(): PlateauState {
    return { bestLoss: Number.isFinite(this.bestLoss) ? this.bestLoss : null, waited: this.waited, multiplier: this.multiplier, reductions: this.reductions.map((r) => ({ ...r })) };
  }

  setState(state: PlateauState): void {
    this.bestLoss = state.bestLoss ?? Infinity;
    this.waited = state.waited;
    this.multiplier = state.multiplier;
    this.reductions = (state.reductions ?? []).map((r) => ({ ...r }));
  }

  toConfig() {
    return { name: 'reduceOnPlateau', patience: this.patience, factor: this.factor, minDelta: this.minDelta };
  }
}
