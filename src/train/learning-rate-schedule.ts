/** Settings that rebuild a schedule (written into run and export metadata as JSON). */
export type ScheduleConfig = { name: string } & { [setting: string]: number | string | ScheduleConfig };

/**
 * A learning rate as a pure function of the epoch (0-based; the rate is set at the start of each
 * epoch): easy to test, to plot and to record.
 */
export interface LearningRateSchedule {
  rateAt(epoch: number): number;
  /** Settings that rebuild the schedule with scheduleFromConfig. */
  toConfig(): ScheduleConfig;
}

export type ScheduleName = 'exponential' | 'step' | 'cosine';

function expect(ok: boolean, received: string, expected: string): void {
  if (!ok) throw new Error(`Received ${received}. Expected ${expected}.`);
}

const positiveRate = (initialRate: number) => expect(initialRate > 0, `initialRate=${initialRate}`, 'a number > 0');

/** rate = initialRate * decayRate^epoch. */
export class ExponentialDecay implements LearningRateSchedule {
  constructor(
    readonly initialRate: number,
    readonly decayRate: number,
  ) {
    positiveRate(initialRate);
    expect(decayRate > 0 && decayRate <= 1, `decayRate=${decayRate}`, 'a number in (0, 1]');
  }

  rateAt(epoch: number): number {
    return this.initialRate * this.decayRate ** epoch;
  }

  toConfig() {
    return { name: 'exponentialDecay', initialRate: this.initialRate, decayRate: this.decayRate };
  }
}

/** rate = initialRate * factor^floor(epoch / stepSize): drops by `factor` every `stepSize` epochs. */
export class StepDecay implements LearningRateSchedule {
  constructor(
    readonly initialRate: number,
    readonly stepSize: number,
    readonly factor: number,
  ) {
    positiveRate(initialRate);
    expect(Number.isInteger(stepSize) && stepSize > 0, `stepSize=${stepSize}`, 'a positive integer');
    expect(factor > 0 && factor <= 1, `factor=${factor}`, 'a number in (0, 1]');
  }

  rateAt(epoch: number): number {
    return this.initialRate * this.factor ** Math.floor(epoch / this.stepSize);
  }

  toConfig() {
    return { name: 'stepDecay', initialRate: this.initialRate, stepSize: this.stepSize, factor: this.factor };
  }
}

/** Half a cosine from initialRate down to minRate over `epochs` epochs (progress = epoch / epochs), then minRate. */
export class CosineDecay implements LearningRateSchedule {
  constructor(
    readonly initialRate: number,
    readonly epochs: number,
    readonly minRate = 0,
  ) {
    positiveRate(initialRate);
    expect(Number.isInteger(epochs) && epochs > 0, `epochs=${epochs}`, 'a positive integer');
    expect(minRate >= 0 && minRate < initialRate, `minRate=${minRate}`, `a number in [0, initialRate=${initialRate})`);
  }

  rateAt(epoch: number): number {
    const progress = Math.min(Math.max(epoch / this.epochs, 0), 1);
    return this.minRate + (this.initialRate - this.minRate) * 0.5 * (1 + Math.cos(Math.PI * progress));
  }

  toConfig() {
    return { name: 'cosineDecay', initialRate: this.initialRate, epochs: this.epochs, minRate: this.minRate };
  }
}

/**
 * Rises linearly to the schedule's first rate over `warmupEpochs` (epoch e gets (e + 1) / (warmupEpochs + 1)
 * of it), then follows the schedule from its epoch 0.
 */
export class LinearWarmup implements LearningRateSchedule {
  constructor(
    readonly schedule: LearningRateSchedule,
    readonly warmupEpochs: number,
  ) {
    expect(Number.isInteger(warmupEpochs) && warmupEpochs >= 0, `warmupEpochs=${warmupEpochs}`, 'an integer >= 0');
  }

  rateAt(epoch: number): number {
    if (epoch < this.warmupEpochs) return (this.schedule.rateAt(0) * (epoch + 1)) / (this.warmupEpochs + 1);
    return this.schedule.rateAt(epoch - this.warmupEpochs);
  }

  toConfig() {
    return { name: 'linearWarmup', warmupEpochs: this.warmupEpochs, schedule: this.schedule.toConfig() };
  }
}

/** Rebuilds a schedule from its toConfig(). */
export function scheduleFromConfig(config: ScheduleConfig): LearningRateSchedule {
  const number = (key: string) => config[key] as number;
  switch (config.name) {
    case 'exponentialDecay':
      return new ExponentialDecay(number('initialRate'), number('decayRate'));
    case 'stepDecay':
      return new StepDecay(number('initialRate'), number('stepSize'), number('factor'));
    case 'cosineDecay':
      return new CosineDecay(number('initialRate'), number('epochs'), number('minRate'));
    case 'linearWarmup':
      return new LinearWarmup(scheduleFromConfig(config.schedule as ScheduleConfig), number('warmupEpochs'));
    default:
      throw new Error(`Received schedule name "${config.name}". Expected exponentialDecay, stepDecay, cosineDecay or linearWarmup.`);
  }
}

export interface ScheduleSettings {
  name: ScheduleName;
  initialRate: number;
  /** Epochs of the phase (cosine decays over those after the warmup). */
  epochs: number;
  decayRate: number;
  stepSize: number;
  stepFactor: number;
  warmupEpochs: number;
}

/** The schedule the train.* settings describe, with a linear warmup in front when warmupEpochs > 0. */
export function buildSchedule(settings: ScheduleSettings): LearningRateSchedule {
  const decaying = (() => {
    switch (settings.name) {
      case 'exponential':
        return new ExponentialDecay(settings.initialRate, settings.decayRate);
      case 'step':
        return new StepDecay(settings.initialRate, settings.stepSize, settings.stepFactor);
      case 'cosine':
        return new CosineDecay(settings.initialRate, Math.max(settings.epochs - settings.warmupEpochs, 1));
    }
  })();
  return settings.warmupEpochs > 0 ? new LinearWarmup(decaying, settings.warmupEpochs) : decaying;
}
