import type { Logger } from '../logger';
import type { Progress, ProgressTask } from '../progress';
import type { JobEventBody, JobEvents } from './job-events';

/** Progress events of one task at most this often (and always its first and last). */
const progressIntervalMs = 500;

/**
 * The pipeline's Logger and Progress for one job: each line and each progress step becomes an event
 * of the job (in the order they happen: one Redis connection sends commands in order), mirrored on
 * the worker's own log. The latest progress also goes to `onProgress` (BullMQ's job.updateProgress).
 */
export class JobReporter {
  private pending: Promise<unknown>[] = [];

  constructor(
    private readonly events: JobEvents,
    private readonly jobId: string,
    private readonly worker: string,
    private readonly workerLog: Logger,
    private readonly onProgress: (progress: object) => Promise<void> = async () => undefined,
  ) {}

  emit(body: JobEventBody): void {
    const sent = this.events.append(this.jobId, body, this.worker).catch((error: Error) => this.workerLog.warn(`job ${this.jobId}: could not record a ${body.type} event: ${error.message}`));
    this.pending.push(sent);
    if (this.pending.length > 64) this.pending = this.pending.slice(-16);
  }

  /** Waits until every event emitted so far is stored. */
  async flush(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    await Promise.all(pending);
  }

  readonly logger: Logger = {
    info: (message) => {
      this.workerLog.info(`[job ${this.jobId}] ${message}`);
      this.emit({ type: 'log', message });
    },
    warn: (message) => {
      this.workerLog.warn(`[job ${this.jobId}] ${message}`);
      this.emit({ type: 'warning', message });
    },
  };

  readonly progress: Progress = {
    start: (stage, total, unit): ProgressTask => {
      let lastSent = 0;
      let done = 0;
      let detail: string | undefined;
      let stopped = false;
      const send = () => {
        lastSent = Date.now();
        const body = { stage, done, total, unit, ...(detail !== undefined ? { detail } : {}) };
        this.emit({ type: 'progress', ...body });
        this.onProgress(body).catch(() => undefined);
      };
      send();
      return {
        update: (value, text) => {
          if (stopped) return;
          done = value;
          if (text !== undefined) detail = text;
          if (Date.now() - lastSent >= progressIntervalMs) send();
        },
        stop: () => {
          if (stopped) return;
          stopped = true;
          send();
        },
      };
    },
  };
}
