import { Queue } from 'bullmq';
import { workerData } from 'node:worker_threads';
import type { ConfigSources } from '../config/load-config';
import { StderrLogger } from '../logger';
import { JobEvents } from './job-events';
import { createRedisConnection, queueNames } from './redis-connection';
import { ShardExtractor } from './shard-extractor';
import type { ShardJobContext } from './shard-job';
import type { TrainJobContext } from './train-job';

/** What job-worker.ts hands to the threads that run jobs (BullMQ sandboxed processors). */
export interface SandboxData {
  redisUrl: string;
  workerConfig: ConfigSources;
  worker: string;
}

let shared: (TrainJobContext & ShardJobContext) | undefined;

/** This thread's connection, event log, shard queue and frozen-part cache, made once on the first job. */
export function sandboxContext(): TrainJobContext & ShardJobContext {
  if (shared) return shared;
  const { redisUrl, workerConfig, worker } = workerData as SandboxData;
  const logger = new StderrLogger();
  const redis = createRedisConnection(redisUrl, logger, 'finetune-worker-job');
  shared = {
    workerConfig,
    worker,
    logger,
    redis,
    events: new JobEvents(redis),
    shardQueue: new Queue(queueNames.shard, { connection: redis }),
    extractor: new ShardExtractor(workerConfig, logger),
  };
  return shared;
}
