import type { Job, Worker } from 'bullmq';
import type { Logger } from '../logger';
import type { JobEvents } from './job-events';
import type { TrainJobResult } from './train-job';

/**
 * A training job's last event, sent from the worker's main thread once BullMQ has stored the
 * outcome, so that whoever reads the job's status after this event sees it completed or failed.
 */
export function reportFinalJobEvents(worker: Worker, events: JobEvents, workerName: string, logger: Logger): void {
  const send = (job: Job, body: Parameters<JobEvents['append']>[1]) =>
    events.append(job.id!, body, workerName).catch((error: Error) => logger.warn(`job ${job.id}: could not record its ${body.type} event: ${error.message}`));
  worker.on('completed', (job: Job, result: TrainJobResult) => {
    void send(job, { type: 'completed', exportDir: result.exportDir, version: result.version, metrics: result.metrics });
  });
  worker.on('failed', (job: Job | undefined, error: Error) => {
    if (!job) return;
    void job.getState().then((state) =>
      send(job, { type: 'failed', error: error.message, retrying: state !== 'failed', cancelled: error.message.startsWith('cancelled') }),
    );
  });
}
