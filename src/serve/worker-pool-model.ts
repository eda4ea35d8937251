import type { ExportMetadata } from '../export/export-metadata';
import type { Logger } from '../logger';
import { RequestError } from './request-error';
import type { WorkerPriority } from './thread-priority';
import type { Pixels, VersionModel, WorkerHealth } from './version-model';
import { InferenceWorkerExited, WorkerVersionModel } from './worker-version-model';

export interface WorkerPoolOptions {
  dir: string;
  backend: string;
  workers: number;
  /** Workers run the export compiled (the default) rather than through predict. */
  compiled?: boolean;
  /** Longest a worker (first or replacement) may take to load the version. */
  loadTimeoutMs: number;
  logger?: Logger;
  /** How far below the thread starting them the workers run; by default at its priority. */
  priority?: WorkerPriority;
}

/** Longest pause between two attempts to replace a dead worker (doubling from 1 s). */
const MAX_REPLACE_DELAY_MS = 30_000;

/**
 * Several workers with a copy of the version each (one per core): the micro-batcher runs one batch
 * per worker at once, each to the live worker with the fewest batches in hand. On wasm a single image
 * already keeps one core busy, so a second worker, not a bigger batch, is what uses the second core.
 * A worker that dies is replaced (retrying with a growing pause while its replacement fails to load);
 * its batch in hand runs again once on another worker.
 */
export class WorkerPoolModel implements VersionModel {
  readonly metadata: ExportMetadata;
  readonly labels: string[];
  readonly parallelism: number;
  private disposed = false;
  private readonly aborts = new AbortController();

  private constructor(
    private readonly options: WorkerPoolOptions,
    readonly workers: (WorkerVersionModel | undefined)[],
  ) {
    this.metadata = workers[0]!.metadata;
    this.labels = workers[0]!.labels;
    this.parallelism = workers.length;
  }

  static async start(options: WorkerPoolOptions, signal: AbortSignal): Promise<WorkerPoolModel> {
    let pool: WorkerPoolModel | undefined;
    const onExit = (slot: number) => (error: Error) => pool?.replace(slot, error);
    const started = await Promise.allSettled(Array.from({ length: options.workers }, (_, slot) => WorkerVersionModel.start(options, signal, onExit(slot))));
    const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    const workers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    if (failed) {
      await Promise.all(workers.map((worker) => worker.dispose()));
      throw failed.reason;
    }
    pool = new WorkerPoolModel(options, workers);
    return pool;
  }

  health(): WorkerHealth {
    return { alive: this.workers.filter((worker) => worker?.alive).length, total: this.workers.length };
  }

  async predict(images: Pixels[]): Promise<number[][]> {
    for (let attempt = 0; ; attempt++) {
      const worker = this.idlest();
      if (!worker) {
        throw new RequestError(503, 'No inference worker is running: they exited and their replacements are loading. Retry shortly.', 1);
      }
      try {
        return await worker.predict(images);
      } catch (error) {
        // Once on another worker: a batch that kills every worker it meets must not kill them all.
        if (!(error instanceof InferenceWorkerExited) || attempt >= 1 || this.disposed) throw error;
      }
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.aborts.abort(new Error('the version was unloaded'));
    await Promise.all(this.workers.map((worker) => worker?.dispose()));
  }

  private idlest(): WorkerVersionModel | undefined {
    let best: WorkerVersionModel | undefined;
    for (const worker of this.workers) if (worker?.alive && (!best || worker.inHand < best.inHand)) best = worker;
    return best;
  }

  private replace(slot: number, error: Error, delayMs = 0): void {
    if (this.disposed) return;
    if (delayMs === 0) this.options.logger?.warn(`inference worker ${slot + 1} of ${this.workers.length} ended (${error.message}); starting a replacement`);
    const timer = setTimeout(async () => {
      if (this.disposed) return;
      const timeout = AbortSignal.any([this.aborts.signal, AbortSignal.timeout(this.options.loadTimeoutMs)]);
      try {
        const worker = await WorkerVersionModel.start(this.options, timeout, (next) => this.replace(slot, next));
        if (this.disposed) await worker.dispose();
        else this.workers[slot] = worker;
      } catch (failure) {
        const next = Math.min(MAX_REPLACE_DELAY_MS, Math.max(1000, delayMs * 2));
        this.options.logger?.warn(`inference worker ${slot + 1} could not be replaced (${(failure as Error).message}); trying again in ${next / 1000} s`);
        this.replace(slot, failure as Error, next);
      }
    }, delayMs);
    timer.unref();
  }
}
