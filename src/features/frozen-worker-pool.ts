import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { RuntimeFailure } from '../errors';
import type { FrozenPartSpec } from './frozen-forward';
import type { WorkerInit, WorkerReply, WorkerRequest } from './frozen-worker';

export interface FrozenWorkerPoolOptions {
  workers: number;
  /** tfjs backend the workers use: the main thread's, so results match it ('wasm' or 'cpu'). */
  backend: string;
  /** Worker script; defaults to the compiled frozen-worker.js beside this file (tests substitute others). */
  script?: string;
}

export interface WorkerOutput {
  values: Float32Array;
  /** Batch shape of the output, e.g. [N, 576] or [N, 14, 14, 96]. */
  shape: number[];
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Rejections are reported through whoever awaits; an unawaited one must not crash the process.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

interface Slot {
  worker: Worker;
  ready: Deferred<void>;
  pending?: { id: number; result: Deferred<WorkerOutput> };
}

let liveWorkers = 0;

/** Worker threads of this module that have started and not yet exited (for tests and diagnostics). */
export function liveFrozenWorkers(): number {
  return liveWorkers;
}

/**
 * Worker threads that each hold a copy of the frozen part (own tfjs, own backend) and run one
 * batch at a time. The first failure of any worker (an error it reports, an uncaught exception,
 * an unexpected exit) fails the pool: every pending and later call rejects with that error.
 * Always call terminate() (in a finally).
 */
export class FrozenWorkerPool {
  private failure?: Error;
  private terminating = false;
  private nextId = 0;

  private constructor(private readonly slots: Slot[]) {}

  get size(): number {
    return this.slots.length;
  }

  /** Starts the workers and waits until each has loaded its frozen part; on failure none is left running. */
  static async start(spec: FrozenPartSpec, options: FrozenWorkerPoolOptions): Promise<FrozenWorkerPool> {
    const script = options.script ?? path.join(__dirname, 'frozen-worker.js');
    if (!fs.existsSync(script)) {
      throw new RuntimeFailure(`The frozen-part worker script ${script} is missing: parallel extraction runs from the compiled dist/ (run npm run build).`);
    }
    const slots: Slot[] = [];
    const pool = new FrozenWorkerPool(slots);
    for (let i = 0; i < options.workers; i++) {
      const init: WorkerInit = { spec, backend: options.backend };
      const worker = new Worker(script, { workerData: init });
      liveWorkers++;
      const slot: Slot = { worker, ready: deferred<void>() };
      slots.push(slot);
      pool.watch(slot, i, options.workers);
    }
    try {
      await Promise.all(slots.map((slot) => slot.ready.promise));
    } catch (error) {
      await pool.terminate();
      throw error;
    }
    return pool;
  }

  private watch(slot: Slot, index: number, count: number): void {
    const name = `frozen-part worker ${index + 1} of ${count}`;
    slot.worker.on('message', (reply: WorkerReply) => {
      if (reply.type === 'ready') slot.ready.resolve();
      else if (reply.type === 'result') {
        const pending = slot.pending;
        if (!pending || pending.id !== reply.id) return this.fail(new RuntimeFailure(`${name} answered a batch it was not given (${reply.id})`));
        slot.pending = undefined;
        pending.result.resolve({ values: reply.values, shape: reply.shape });
      } else this.fail(new RuntimeFailure(`Feature extraction failed in ${name}: ${reply.message}`));
    });
    slot.worker.on('messageerror', (error) => this.fail(new RuntimeFailure(`Feature extraction failed: ${name} sent an unreadable message (${error.message})`)));
    slot.worker.on('error', (error) => this.fail(new RuntimeFailure(`Feature extraction failed: ${name} crashed: ${error.message}`)));
    slot.worker.on('exit', (code) => {
      liveWorkers--;
      if (!this.terminating) this.fail(new RuntimeFailure(`Feature extraction failed: ${name} exited unexpectedly (exit code ${code})`));
    });
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const slot of this.slots) {
      slot.ready.reject(error);
      slot.pending?.result.reject(error);
      slot.pending = undefined;
    }
  }

  /**
   * Runs one batch of raw RGB bytes (count x size x size x 3) on worker `index`, which must be idle.
   * The pixel buffer is transferred (detached here).
   */
  run(index: number, pixels: Uint8Array, count: number, size: number): Promise<WorkerOutput> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.terminating) return Promise.reject(new RuntimeFailure('the frozen-part worker pool was terminated'));
    const slot = this.slots[index];
    if (slot.pending) return Promise.reject(new Error(`frozen-part worker ${index + 1} is busy`));
    const id = this.nextId++;
    const result = deferred<WorkerOutput>();
    slot.pending = { id, result };
    const request: WorkerRequest = { type: 'run', id, pixels, count, size };
    const whole = pixels.byteOffset === 0 && pixels.byteLength === pixels.buffer.byteLength;
    slot.worker.postMessage(request, whole ? [pixels.buffer as ArrayBuffer] : []);
    return result.promise;
  }

  /** Stops every worker (idempotent); resolves once all have exited. */
  async terminate(): Promise<void> {
    if (!this.failure) this.fail(new RuntimeFailure('the frozen-part worker pool was terminated'));
    this.terminating = true;
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }
}
