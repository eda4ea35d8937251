export interface PlateauState {
  bestLoss: number | null;
  waited: number;
  multiplier: number;
}

/**
 * Keras' ReduceLROnPlateau as a multiplier on the schedule: when the monitored loss has not improved
 * for `patience` epochs, the multiplier is scaled by `factor` and the wait starts over.
 */
export class ReduceOnPlateau {
  private bestLoss = Infinity;
  private waited = 0;
  /** What the scheduled rate is multiplied by. */
  multiplier = 1;

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

  getState(): PlateauState {
    return { bestLoss: Number.isFinite(this.bestLoss) ? this.bestLoss : null, waited: this.waited, multiplier: this.multiplier };
  }

  setState(state: PlateauState): void {
    this.bestLoss = state.bestLoss ?? Infinity;
    this.waited = state.waited;
    this.multiplier = state.multiplier;
  }

  toConfig() {
    return { name: 'reduceOnPlateau', patience: this.patience, factor: this.factor, minDelta: this.minDelta };
  }
}
