import { Worker } from 'bullmq';
import os from 'node:os';
import path from 'node:path';
import type { ConfigSources } from '../config/load-config';
import type { Logger } from '../logger';
import { reportFinalJobEvents } from './final-job-events';
import { listenForCancellations } from './job-cancellation';
import { JobEvents } from './job-events';
import { createRedisConnection, queueNames } from './redis-connection';
import type { SandboxData } from './sandbox-context';
import { workerStopping } from './train-job';

export interface JobWorkerOptions {
  redisUrl: string;
  concurrency: number;
  /** A dead worker's jobs go to another after about this long (BullMQ lockDuration and stalled-check interval). */
  lockSeconds: number;
  /** The worker's configuration layers; each job's overrides go on top. */
  workerConfig: ConfigSources;
  logger: Logger;
}

export interface RunningWorker {
  name: string;
  /** Hands running training jobs back to the queue (they resume from their last checkpoint elsewhere), then disconnects. */
  close(): Promise<void>;
}

/**
 * `finetune worker`: takes training jobs and extraction shards from the queue, as many at once as
 * `concurrency`, each in a thread of its own (BullMQ sandboxed processors) so that this thread keeps
 * renewing the jobs' locks. Redis going away pauses it (every connection retries) instead of ending it.
 */
export async function startJobWorker(options: JobWorkerOptions): Promise<RunningWorker> {
  const { logger } = options;
  const name = `${os.hostname()}:${process.pid}`;
  const connect = (role: string) => createRedisConnection(options.redisUrl, logger, `finetune-worker-${role}`);
  const sandbox: SandboxData = { redisUrl: options.redisUrl, workerConfig: options.workerConfig, worker: name };
  const workerOptions = {
    concurrency: options.concurrency,
    lockDuration: options.lockSeconds * 1000,
    stalledInterval: options.lockSeconds * 1000,
    // A job whose worker died is taken again (twice at most: a job that kills its workers must end).
    maxStalledCount: 2,
    useWorkerThreads: true,
    workerThreadsOptions: { workerData: sandbox },
  };
  const trainWorker = new Worker(queueNames.train, path.join(__dirname, 'train-job-sandbox.js'), { ...workerOptions, connection: connect('train') });
  const shardWorker = new Worker(queueNames.shard, path.join(__dirname, 'shard-job-sandbox.js'), { ...workerOptions, connection: connect('shards') });
  for (const worker of [trainWorker, shardWorker]) {
    worker.on('error', (error) => logger.warn(`${worker.name}: ${error.message}`));
    worker.on('failed', (job, error) => job && logger.warn(`job ${job.id} failed: ${error.message}`));
    worker.on('completed', (job) => logger.info(`job ${job.id} done`));
  }
  const commands = connect('commands');
  reportFinalJobEvents(trainWorker, new JobEvents(commands), name, logger);
  const subscriber = connect('cancel');
  await listenForCancellations(subscriber, (jobId, reason) => {
    if (trainWorker.cancelJob(jobId, reason)) logger.info(`job ${jobId}: cancelling (${reason})`);
  });
  await Promise.all([trainWorker.waitUntilReady(), shardWorker.waitUntilReady()]);
  logger.info(`worker ${name}: taking jobs from ${queueNames.train} and ${queueNames.shard} (concurrency ${options.concurrency})`);
  return {
    name,
    close: async () => {
      trainWorker.cancelAllJobs(workerStopping);
      await Promise.all([trainWorker.close(), shardWorker.close()]);
      subscriber.disconnect();
      commands.disconnect();
    },
  };
}
