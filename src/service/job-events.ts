import type { Redis } from 'ioredis';

/** What a job reports, in the order it happened; every event also carries `at` (ISO time) and `worker`. */
export type JobEventBody =
  | { type: 'queued'; name: string; dataDir: string }
  | { type: 'started'; step: 'plan' | 'train'; resumed?: string }
  | { type: 'planned'; plan: unknown; shards: number; images: number }
  | { type: 'shard'; index: number; shards: number; images: number; computed: number; seconds: number }
  | { type: 'progress'; stage: string; done: number; total: number; unit: string; detail?: string }
  | { type: 'log'; message: string }
  | { type: 'warning'; message: string }
  | { type: 'epoch'; record: Record<string, unknown> }
  | { type: 'cancelling'; reason: string }
  | { type: 'completed'; exportDir: string; version: number; metrics: unknown }
  | { type: 'failed'; error: string; retrying: boolean; cancelled: boolean };

export type JobEvent = JobEventBody & { id: string; at: string; worker?: string };

const keep = { events: 20_000, seconds: 7 * 24 * 3600 };
const pollMs = 250;
/** Idle polls between two looks at the job's stored outcome (about 5 s). */
const outcomeCheckEvery = 20;

/** Final events: nothing follows them (a failure that will be retried is not final). */
export function isFinal(event: JobEventBody): boolean {
  return event.type === 'completed' || (event.type === 'failed' && !event.retrying);
}

/**
 * Each job's events in a Redis stream of its own (<prefix>:<job id>): appended by whichever worker or
 * API process reports, read back whole and in order by any number of watchers, however late they
 * connect. BullMQ's own QueueEvents stream is shared by all jobs and trimmed, so it cannot replay
 * one job's history; progress still goes to job.updateProgress for the job's status.
 */
export class JobEvents {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'finetune:events',
  ) {}

  private keyOf(jobId: string): string {
    return `${this.prefix}:${jobId}`;
  }

  async append(jobId: string, body: JobEventBody, worker?: string): Promise<void> {
    const key = this.keyOf(jobId);
    const event = { ...body, at: new Date().toISOString(), ...(worker ? { worker } : {}) };
    await this.redis.multi().xadd(key, 'MAXLEN', '~', String(keep.events), '*', 'event', JSON.stringify(event)).expire(key, keep.seconds).exec();
  }

  /** Events after `afterId` ('0' for all), oldest first. */
  async read(jobId: string, afterId = '0', count = 500): Promise<JobEvent[]> {
    const entries = await this.redis.xrange(this.keyOf(jobId), afterId === '0' ? '-' : `(${afterId}`, '+', 'COUNT', count);
    return entries.map(([id, fields]) => ({ id, ...JSON.parse(fields[fields.indexOf('event') + 1]) }));
  }

  /**
   * Calls `onEvent` for every event after `afterId`, in order, polling while the job runs, until a
   * final event was passed on or `signal` aborts. While nothing arrives, `outcome` is asked now and
   * then: a job that ended without its final event (its worker died right after BullMQ stored the
   * outcome) ends the stream with the event `outcome` returns.
   */
  async follow(jobId: string, afterId: string, onEvent: (event: JobEvent) => void, signal: AbortSignal, outcome?: () => Promise<JobEventBody | undefined>): Promise<void> {
    let last = afterId;
    let idle = 0;
    const deliver = (events: JobEvent[]): boolean => {
      for (const event of events) {
        onEvent(event);
        last = event.id;
        if (isFinal(event)) return true;
      }
      return false;
    };
    while (!signal.aborted) {
      const events = await this.read(jobId, last);
      if (deliver(events)) return;
      if (events.length > 0) {
        idle = 0;
        continue;
      }
      if (outcome && ++idle % outcomeCheckEvery === 0) {
        const ended = await outcome();
        if (ended) {
          if (deliver(await this.read(jobId, last))) return;
          onEvent({ ...ended, id: last, at: new Date().toISOString() });
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }
}
