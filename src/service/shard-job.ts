import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { FinetuneError } from '../errors';
import type { Logger } from '../logger';
import { cancelReason } from './job-cancellation';
import type { JobEvents } from './job-events';
import { JobReporter } from './job-reporter';
import type { ShardExtractor, ShardResult } from './shard-extractor';
import type { ShardSpec } from './shard-plan';

export interface ShardJobContext {
  extractor: ShardExtractor;
  events: JobEvents;
  redis: Redis;
  logger: Logger;
  worker: string;
}

/**
 * One extraction shard, reported on its training job's events. A shard of a cancelled job, or one that
 * fails on its data, fails at once and takes its parent with it (failParentOnFailure); a shard whose
 * worker died is taken again by another (BullMQ's stalled-job check) and simply redone: its features
 * land in the cache under the same keys.
 */
export async function processShardJob(context: ShardJobContext, job: SandboxedJob<ShardSpec, ShardResult>): Promise<ShardResult> {
  const spec = job.data;
  const parent = new JobReporter(context.events, spec.parentId, context.worker, context.logger);
  try {
    const cancelled = await cancelReason(context.redis, spec.parentId);
    if (cancelled) throw new UnrecoverableError(`cancelled: ${cancelled}`);
    const result = await context.extractor.run(spec);
    parent.emit({ type: 'shard', index: spec.index, shards: spec.shards, images: spec.items.length, computed: result.computed, seconds: result.seconds });
    return result;
  } catch (error) {
    const message = `extraction shard ${spec.index + 1}/${spec.shards}: ${(error as Error).message}`;
    const final = error instanceof UnrecoverableError || (error instanceof FinetuneError && error.exitCode === 2) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (!final) {
      parent.logger.warn(`${message}; retrying`);
      throw error;
    }
    parent.emit({ type: 'failed', error: message, retrying: false, cancelled: (error as Error).message.startsWith('cancelled') });
    throw new UnrecoverableError(message);
  } finally {
    await parent.flush();
  }
}
