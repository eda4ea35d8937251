import type { EpochLog } from './fit';
import type { TrainingCallback, TrainingLoop } from './training-callback';
import type { TrainingWarning } from './training-warnings';

export interface LambdaHandlers {
  onEpoch?: (log: EpochLog) => void;
  /** After every training batch, counted from 1 within the epoch. */
  onBatch?: (epoch: number, batch: number, batchesPerEpoch: number) => void;
  /** Each warning once, after the step or the epoch that raised it. */
  onWarning?: (warning: TrainingWarning) => void;
}

/** Plain functions as a callback (Keras' LambdaCallback); last in the list, so an epoch is reported once it is checkpointed. */
export class LambdaCallback implements TrainingCallback {
  private delivered = 0;

  constructor(private readonly handlers: LambdaHandlers) {}

  /** Warnings restored from a checkpoint were delivered by the run that raised them. */
  onTrainBegin(loop: TrainingLoop): void {
    this.delivered = loop.warnings.length;
  }

  onBatchEnd(epoch: number, batch: number, _outcome: unknown, loop: TrainingLoop): void {
    this.deliverWarnings(loop);
    this.handlers.onBatch?.(epoch, batch, loop.batchesPerEpoch);
  }

  onEpochEnd(log: EpochLog, loop: TrainingLoop): void {
    this.handlers.onEpoch?.(log);
    this.deliverWarnings(loop);
  }

  private deliverWarnings(loop: TrainingLoop): void {
    const fresh = loop.warnings.slice(this.delivered);
    this.delivered = loop.warnings.length;
    fresh.forEach((warning) => this.handlers.onWarning?.(warning));
  }
}
