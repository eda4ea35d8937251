export interface MicroBatcherOptions<I, O> {
  /** Most items in one run. */
  maxBatchSize: number;
  /** Longest time the first queued item waits for others before an incomplete batch runs. */
  maxWaitMs: number;
  /** Runs one batch; answers one output per item, in order. */
  run: (items: I[]) => Promise<O[]>;
  /** Told the size of every batch that runs (for metrics). */
  onBatch?: (size: number) => void;
  /** Batches that may run at once (one per inference worker). Defaults to 1. */
  concurrency?: number;
}

interface Submission<O> {
  outputs: O[];
  remaining: number;
  failed: boolean;
  resolve: (outputs: O[]) => void;
  reject: (error: unknown) => void;
}

interface Slot<I, O> {
  item: I;
  index: number;
  submission: Submission<O>;
}

/**
 * Gathers items submitted by concurrent callers into batches of at most maxBatchSize, at most
 * `concurrency` batches running at a time. A batch runs when it is full, when maxWaitMs has passed
 * since its first item arrived, or as soon as a running batch ends (those items have waited for it already).
 * A submission larger than maxBatchSize is spread over several batches.
 */
export class MicroBatcher<I, O> {
  private readonly queue: Slot<I, O>[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: MicroBatcherOptions<I, O>) {}

  /** Items waiting for a batch to start. */
  get queued(): number {
    return this.queue.length;
  }

  /** Items queued or running. */
  get pending(): number {
    return this.queue.length + this.running;
  }

  submit(items: I[]): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<O[]>((resolve, reject) => {
      const submission: Submission<O> = { outputs: new Array(items.length), remaining: items.length, failed: false, resolve, reject };
      items.forEach((item, index) => this.queue.push({ item, index, submission }));
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private get busy(): boolean {
    return this.running >= (this.options.concurrency ?? 1);
  }

  private schedule(): void {
    if (this.busy || this.queue.length === 0) return;
    if (this.queue.length >= this.options.maxBatchSize) {
      this.runNext();
      return;
    }
    this.timer ??= setTimeout(() => this.runNext(), this.options.maxWaitMs);
  }

  private runNext(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.busy || this.queue.length === 0) return;
    this.running += 1;
    const batch = this.queue.splice(0, this.options.maxBatchSize);
    this.options.onBatch?.(batch.length);
    this.schedule(); // a second worker may take what is left
    let outcome: Promise<O[]>;
    try {
      outcome = this.options.run(batch.map((slot) => slot.item));
    } catch (error) {
      outcome = Promise.reject(error);
    }
    outcome
      .then(
        (outputs) => {
          if (outputs.length !== batch.length) throw new Error(`a batch of ${batch.length} items gave ${outputs.length} outputs`);
          batch.forEach((slot, i) => {
            const { submission } = slot;
            if (submission.failed) return;
            submission.outputs[slot.index] = outputs[i];
            submission.remaining -= 1;
            if (submission.remaining === 0) submission.resolve(submission.outputs);
          });
        },
      )
      .catch((error) => this.fail(batch, error))
      .finally(() => {
        this.running -= 1;
        if (this.queue.length > 0) {
          this.runNext();
        } else if (this.running === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          waiters.forEach((resolve) => resolve());
        }
      });
  }

  private fail(batch: Slot<I, O>[], error: unknown): void {
    for (const { submission } of batch) {
      if (submission.failed) continue;
      submission.failed = true;
      submission.reject(error);
    }
    // The rest of a failed submission would be computed for nothing.
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i].submission.failed) this.queue.splice(i, 1);
  }
}
