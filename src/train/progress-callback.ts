import type { Logger } from '../logger';
import type { Progress, ProgressTask } from '../progress';
import type { EpochLog } from './fit';
import type { TrainingCallback, TrainingLoop } from './training-callback';

/** Shows a phase's batches, epoch and last losses as it trains, and logs a line per epoch (Keras' ProgbarLogger). */
export class ProgressCallback implements TrainingCallback {
  private task: ProgressTask | undefined;
  private detail = '';

  constructor(
    private readonly phase: string,
    private readonly logger: Logger,
    private readonly progress?: Progress,
  ) {}

  onTrainBegin(loop: TrainingLoop): void {
    this.detail = `epoch 1/${loop.epochs}`;
    this.task = this.progress?.start(this.phase, loop.epochs * loop.batchesPerEpoch, 'batches');
  }

  onBatchEnd(epoch: number, batch: number, _outcome: unknown, loop: TrainingLoop): void {
    this.task?.update(epoch * loop.batchesPerEpoch + batch, this.detail);
  }

  onEpochEnd(log: EpochLog, loop: TrainingLoop): void {
    const { epochs } = loop;
    this.detail =
      `epoch ${Math.min(log.epoch + 2, epochs)}/${epochs}, last loss ${log.loss.toFixed(3)}` + (log.valAccuracy !== undefined ? ` val_acc ${log.valAccuracy.toFixed(3)}` : '');
    this.task?.update((log.epoch + 1) * loop.batchesPerEpoch, this.detail);
    this.logger.info(
      `${this.phase} epoch ${log.epoch + 1}/${epochs} lr ${log.learningRate.toPrecision(3)} loss ${log.loss.toFixed(4)} acc ${log.accuracy.toFixed(3)}` +
        (log.valLoss !== undefined ? ` val_loss ${log.valLoss.toFixed(4)} val_acc ${log.valAccuracy!.toFixed(3)}` : '') +
        (log.versusReference ? ` vs head-only b=${log.versusReference.onlyReferenceRight} c=${log.versusReference.onlyThisRight}` : '') +
        ` (${log.seconds.toFixed(1)} s)`,
    );
  }

  /** Called after training and on failure alike. */
  dispose(): void {
    this.task?.stop();
  }
}
