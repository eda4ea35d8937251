import { MicroBatcher } from './micro-batcher';
import { RequestError } from './request-error';
import type { Pixels, VersionModel } from './version-model';

export type { Pixels } from './version-model';

export interface BatchingOptions {
  maxBatchSize: number;
  batchTimeoutMs: number;
  /** Most images waiting for a forward pass; a request that would pass it is refused with 503. */
  maxQueuedImages: number;
  onBatch?: (size: number) => void;
}

/**
 * One loaded version of a model and its micro-batcher. Requests lease it while they decode and
 * predict; once retired (a newer version took over, or the server stops), it is disposed after the
 * last lease ends, so requests in flight finish on the version they started with.
 */
export class ServedVersion {
  private leases = 0;
  private retired = false;
  private drained: Promise<void> | undefined;
  private disposed: Promise<void> | undefined;
  private resolveDrained: (() => void) | undefined;
  private readonly batcher: MicroBatcher<Pixels, number[]>;

  constructor(
    readonly version: number,
    /** What the version's folder looked like when it was loaded (folder-fingerprint.ts). */
    readonly fingerprint: string,
    readonly model: VersionModel,
    private readonly batching: BatchingOptions,
  ) {
    this.batcher = new MicroBatcher<Pixels, number[]>({
      maxBatchSize: batching.maxBatchSize,
      maxWaitMs: batching.batchTimeoutMs,
      onBatch: batching.onBatch,
      concurrency: model.parallelism,
      run: (images) => model.predict(images),
    });
  }

  /** Side of the square input in pixels. */
  get size(): number {
    return this.model.metadata.input.height;
  }

  get isRetired(): boolean {
    return this.retired;
  }

  /** Runs work with this version held: it is not disposed before work ends. Refused once retired. */
  async use<T>(work: (version: ServedVersion) => Promise<T>): Promise<T> {
    if (this.retired) throw new Error(`version ${this.version} is being unloaded`);
    this.leases += 1;
    try {
      return await work(this);
    } finally {
      this.leases -= 1;
      if (this.retired && this.leases === 0) this.resolveDrained?.();
    }
  }

  /** Probabilities per image, computed in micro-batches with other requests' images. */
  predict(images: Pixels[]): Promise<number[][]> {
    const waiting = this.batcher.queued;
    if (waiting > 0 && waiting + images.length > this.batching.maxQueuedImages) {
      throw new RequestError(
        503,
        `The server is at capacity: ${waiting} images are waiting for the model and this request adds ${images.length} (serve.maxQueuedImages ${this.batching.maxQueuedImages}). Retry after the Retry-After header's seconds.`,
        1,
      );
    }
    return this.batcher.submit(images);
  }

  /** Disposes the model now, leases or not (their predictions fail): the end of a drain deadline. */
  async abandon(): Promise<void> {
    void this.retire();
    this.resolveDrained?.();
    await this.disposeModel();
  }

  /** Stops being handed out; resolves once every lease has ended and the model is disposed. */
  retire(): Promise<void> {
    if (this.drained) return this.drained;
    this.retired = true;
    this.drained = new Promise<void>((resolve) => {
      this.resolveDrained = resolve;
      if (this.leases === 0) resolve();
    }).then(async () => {
      await this.batcher.idle();
      await this.disposeModel();
    });
    return this.drained;
  }

  private disposeModel(): Promise<void> {
    return (this.disposed ??= this.model.dispose());
  }
}
