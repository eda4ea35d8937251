import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { RuntimeFailure } from '../errors';
import type { ExportMetadata } from '../export/export-metadata';
import type { InferenceReply, InferenceRequest } from './inference-worker';
import type { WorkerPriority } from './thread-priority';
import type { Pixels } from './version-model';

/** The inference worker of a batch ended (crashed, killed or unloaded) before answering: the batch may run elsewhere. */
export class InferenceWorkerExited extends RuntimeFailure {}

/** Longest wait for a worker thread to end once told to: one blocked in a system call may never. */
const TERMINATE_WAIT_MS = 2000;

/** Terminates a worker without waiting longer than TERMINATE_WAIT_MS. */
export async function terminateWorker(worker: Worker): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([worker.terminate().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, TERMINATE_WAIT_MS)))]);
  clearTimeout(timer);
}

/** One inference worker thread holding its own copy of a version (protocol: inference-worker.ts). */
export class WorkerVersionModel {
  readonly parallelism = 1;
  private readonly pending = new Map<number, { resolve: (rows: number[][]) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private failure: Error | undefined;

  private constructor(
    /** The thread itself; terminating it from outside is what a crash looks like. */
    readonly thread: Worker,
    readonly metadata: ExportMetadata,
    readonly labels: string[],
    onExit: (error: Error) => void,
  ) {
    thread.on('message', (reply: InferenceReply) => {
      if (reply.type !== 'result' && reply.type !== 'error') return;
      const waiting = reply.id === undefined ? undefined : this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id!);
      if (reply.type === 'error') waiting.reject(new Error(reply.message));
      else waiting.resolve(rows(reply.values, labels.length));
    });
    const fail = (error: Error) => {
      const first = this.failure === undefined;
      this.failure ??= error;
      for (const waiting of this.pending.values()) waiting.reject(this.failure);
      this.pending.clear();
      if (first) onExit(error);
    };
    thread.on('error', (error) => fail(new InferenceWorkerExited(`the inference worker crashed: ${error.message}`)));
    thread.on('exit', (code) => fail(new InferenceWorkerExited(`the inference worker exited (code ${code})`)));
  }

  /**
   * Starts a worker on an export folder and waits until it has loaded it. An abort (the load
   * timeout) terminates the worker: a worker stuck in a blocking read ends with it. Without `priority`
   * the worker runs at the priority of the thread starting it.
   */
  static async start(
    { dir, backend, compiled = true, priority }: { dir: string; backend: string; compiled?: boolean; priority?: WorkerPriority },
    signal: AbortSignal,
    onExit: (error: Error) => void = () => {},
  ): Promise<WorkerVersionModel> {
    const script = path.join(__dirname, 'inference-worker.js');
    if (!fs.existsSync(script)) throw new RuntimeFailure('The inference worker script is missing: run npm run build.');
    signal.throwIfAborted();
    const worker = new Worker(script, { workerData: { dir, backend, compiled, nice: priority?.steps ?? 0 } });
    // Only these listeners come off afterwards: Worker keeps listeners of its own (port referencing).
    let onMessage: (reply: InferenceReply) => void = () => {};
    let onWorkerExit: (code: number) => void = () => {};
    let onError: (error: Error) => void = () => {};
    let onAbort: () => void = () => {};
    const ready = await new Promise<{ metadata: ExportMetadata; labels: string[]; priorityFailure?: string }>((resolve, reject) => {
      onMessage = (reply) => {
        if (reply.type === 'ready') resolve(reply);
        else reject(new Error(reply.type === 'error' ? reply.message : `unexpected ${reply.type}`));
      };
      onError = reject;
      onWorkerExit = (code) => reject(new Error(`the inference worker exited (code ${code}) while loading`));
      onAbort = () => reject(signal.reason);
      worker.on('message', onMessage).on('error', onError).on('exit', onWorkerExit);
      signal.addEventListener('abort', onAbort);
    })
      .catch(async (error) => {
        await terminateWorker(worker);
        throw error;
      })
      .finally(() => {
        worker.off('message', onMessage).off('error', onError).off('exit', onWorkerExit);
        signal.removeEventListener('abort', onAbort);
      });
    priority?.failed(ready.priorityFailure);
    return new WorkerVersionModel(worker, ready.metadata, ready.labels, onExit);
  }

  /** Batches sent and not answered yet. */
  get inHand(): number {
    return this.pending.size;
  }

  get alive(): boolean {
    return this.failure === undefined;
  }

  predict(images: Pixels[]): Promise<number[][]> {
    if (this.failure) return Promise.reject(this.failure);
    const size = this.metadata.input.height;
    const perImage = size * size * 3;
    const pixels = new Float32Array(images.length * perImage);
    images.forEach((image, i) => pixels.set(image, i * perImage));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const request: InferenceRequest = { type: 'predict', id, pixels, count: images.length, size };
      this.thread.postMessage(request, [pixels.buffer]);
    });
  }

  async dispose(): Promise<void> {
    this.failure ??= new InferenceWorkerExited('the model was unloaded');
    await terminateWorker(this.thread);
  }
}

function rows(values: Float32Array, width: number): number[][] {
  const out: number[][] = [];
  for (let start = 0; start < values.length; start += width) out.push(Array.from(values.subarray(start, start + width)));
  return out;
}
