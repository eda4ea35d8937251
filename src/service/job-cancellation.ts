import type { Redis } from 'ioredis';

const channel = 'finetune:cancel';
const keyOf = (jobId: string) => `finetune:cancel:${jobId}`;
const keepSeconds = 7 * 24 * 3600;

/**
 * Cancelling a job anywhere in the fleet: a flag in Redis (read by whichever worker takes the job or
 * one of its shards next) and a message on a channel every worker listens to, so the worker running
 * it aborts the job's signal (BullMQ's worker.cancelJob only reaches jobs of its own process).
 */
export async function requestCancel(redis: Redis, jobId: string, reason: string): Promise<void> {
  await redis.set(keyOf(jobId), reason, 'EX', keepSeconds);
  await redis.publish(channel, JSON.stringify({ jobId, reason }));
}

/** The reason given when the job was cancelled; undefined when it was not. */
export async function cancelReason(redis: Redis, jobId: string): Promise<string | undefined> {
  return (await redis.get(keyOf(jobId))) ?? undefined;
}

/** Calls `onCancel` for each cancellation; `subscriber` becomes a subscriber connection (it can run nothing else). */
export async function listenForCancellations(subscriber: Redis, onCancel: (jobId: string, reason: string) => void): Promise<void> {
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    try {
      const { jobId, reason } = JSON.parse(message) as { jobId: string; reason: string };
      onCancel(jobId, reason);
    } catch {
      // not ours
    }
  });
  await subscriber.subscribe(channel);
}
