/** A learning rate as a pure function of the epoch (0-based): easy to test, to plot and to record. */
export interface LearningRateSchedule {
  rateAt(epoch: number): number;
  /** Settings that rebuild the schedule (written into export metadata). */
  toConfig(): { name: string } & Record<string, number | string>;
}

export class ExponentialDecay implements LearningRateSchedule {
  constructor(
    readonly initialRate: number,
    readonly decayRate: number,
  ) {
    if (!(initialRate > 0)) throw new Error(`Received initialRate=${initialRate}. Expected a number > 0.`);
    if (!(decayRate > 0 && decayRate <= 1)) throw new Error(`Received decayRate=${decayRate}. Expected a number in (0, 1].`);
  }

  rateAt(epoch: number): number {
    return this.initialRate * this.decayRate ** epoch;
  }

  toConfig() {
    return { name: 'exponentialDecay', initialRate: this.initialRate, decayRate: this.decayRate };
  }
}
