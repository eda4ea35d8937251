import { fit, type LabelledData, type TrainableNetwork } from '../train/fit';
import { ExponentialDecay } from '../train/learning-rate-schedule';
import type { StepOutcome } from '../train/train-step';
import type { TrainingCallback, TrainingLoop } from '../train/training-callback';

export interface StepRecord {
  step: number;
  learningRate: number;
  /** Loss of the step's batch (training mode), before the update. */
  loss: number;
  /** Global L2 norm of all gradients of the step. */
  gradientNorm: number;
  /** Variables whose gradient holds NaN or Inf. */
  nonFiniteGradients: string[];
}

export interface StepOptions {
  steps: number;
  batchSize: number;
  seed: number;
  /** Learning rate of each step (0-based). */
  rateAt(step: number): number;
  /** Return true to stop after this step. */
  stop?(record: StepRecord): boolean;
}

/** A callback that sets the rate step by step (fastai's LRFinder) and records each step's loss and gradient norm. */
export class StepRecorder implements TrainingCallback {
  readonly records: StepRecord[] = [];

  constructor(private readonly options: StepOptions) {}

  onEpochBegin(_epoch: number, loop: TrainingLoop): void {
    loop.setLearningRate(this.options.rateAt(this.records.length));
  }

  onBatchEnd(_epoch: number, _batch: number, outcome: StepOutcome, loop: TrainingLoop): void {
    const step = this.records.length;
    const { loss, gradientNorm, nonFiniteGradients } = outcome;
    const record = { step, learningRate: this.options.rateAt(step), loss, gradientNorm, nonFiniteGradients };
    this.records.push(record);
    if (this.records.length >= this.options.steps || this.options.stop?.(record)) loop.stopTraining = true;
    else loop.setLearningRate(this.options.rateAt(this.records.length));
  }
}

/**
 * `options.steps` steps of the real training loop on fresh shuffles, at a rate set per step rather
 * than per epoch (what a learning-rate range test needs), without the NaN guard so that a
 * non-finite step is seen as it is, recording loss and gradient norm.
 */
export async function recordSteps(network: TrainableNetwork, data: LabelledData, numClasses: number, options: StepOptions): Promise<StepRecord[]> {
  const recorder = new StepRecorder(options);
  const batchesPerEpoch = Math.ceil(data.labels.length / options.batchSize);
  await fit(network, data, undefined, numClasses, {
    epochs: Math.ceil(options.steps / batchesPerEpoch),
    batchSize: options.batchSize,
    seed: options.seed,
    schedule: new ExponentialDecay(options.rateAt(0), 1),
    patience: Number.POSITIVE_INFINITY,
    nonFiniteGuard: false,
    callbacks: [recorder],
  });
  return recorder.records;
}
