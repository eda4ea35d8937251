import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { RuntimeFailure } from '../errors';
import type { ExportMetadata } from '../export/export-metadata';
import { loadExport } from '../export/load-export';
import { stackPixels } from '../pipeline/classify-images';
import type { InferenceReply, InferenceRequest } from './inference-worker';

/** Raw RGB [0, 255] pixels of one image, HWC at the model's input size. */
export type Pixels = Uint8Array | Float32Array;

/** One loaded export version as the server uses it: its contract, and batched forward passes. */
export interface VersionModel {
  readonly metadata: ExportMetadata;
  readonly labels: string[];
  /** Batches it computes at once (its inference workers). */
  readonly parallelism: number;
  /** Probabilities per image for one batch. */
  predict(images: Pixels[]): Promise<number[][]>;
  dispose(): Promise<void>;
}

export type InferenceThread = 'worker' | 'main';

/**
 * Loads an export version. In a worker thread (its own tfjs and backend), forward passes leave the
 * main thread free to parse, decode and answer requests meanwhile, so the next batch fills while
 * one computes; in the main thread, a forward pass stops everything else until it ends.
 */
export async function loadVersionModel(dir: string, thread: InferenceThread, backend: string, workers = 1, compiled = true): Promise<VersionModel> {
  if (thread === 'main') return mainThreadModel(dir, compiled);
  if (workers <= 1) return WorkerVersionModel.start(dir, backend, compiled);
  const started = await Promise.allSettled(Array.from({ length: workers }, () => WorkerVersionModel.start(dir, backend, compiled)));
  const pool = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    await Promise.all(pool.map((model) => model.dispose()));
    throw failed.reason;
  }
  return new WorkerPoolModel(pool);
}

/**
 * Several workers with a copy of the version each (one per core): the micro-batcher runs one batch
 * per worker at once, each to the worker with the fewest batches in hand. On wasm a single image
 * already keeps one core busy, so a second worker, not a bigger batch, is what uses the second core.
 */
class WorkerPoolModel implements VersionModel {
  readonly metadata: ExportMetadata;
  readonly labels: string[];
  readonly parallelism: number;

  constructor(private readonly workers: WorkerVersionModel[]) {
    this.metadata = workers[0].metadata;
    this.labels = workers[0].labels;
    this.parallelism = workers.length;
  }

  predict(images: Pixels[]): Promise<number[][]> {
    const idlest = this.workers.reduce((a, b) => (b.inHand < a.inHand ? b : a));
    return idlest.predict(images);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.dispose()));
  }
}

async function mainThreadModel(dir: string, compiled: boolean): Promise<VersionModel> {
  const loaded = await loadExport(dir, { compiled });
  const size = loaded.metadata.input.height;
  return {
    metadata: loaded.metadata,
    labels: loaded.labels,
    parallelism: 1,
    async predict(images) {
      const output = tf.tidy(() => loaded.predict(stackPixels(images, size)));
      try {
        return (await output.array()) as number[][];
      } finally {
        output.dispose();
      }
    },
    async dispose() {
      loaded.dispose();
    },
  };
}

class WorkerVersionModel implements VersionModel {
  readonly parallelism = 1;
  private readonly pending = new Map<number, { resolve: (rows: number[][]) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private failure: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly metadata: ExportMetadata,
    readonly labels: string[],
  ) {
    worker.on('message', (reply: InferenceReply) => {
      if (reply.type !== 'result' && reply.type !== 'error') return;
      const waiting = reply.id === undefined ? undefined : this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id!);
      if (reply.type === 'error') waiting.reject(new Error(reply.message));
      else waiting.resolve(rows(reply.values, labels.length));
    });
    const fail = (error: Error) => {
      this.failure ??= error;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on('error', (error) => fail(new RuntimeFailure(`the inference worker crashed: ${error.message}`)));
    worker.on('exit', (code) => fail(new RuntimeFailure(`the inference worker exited (code ${code})`)));
  }

  static async start(dir: string, backend: string, compiled: boolean): Promise<WorkerVersionModel> {
    const script = path.join(__dirname, 'inference-worker.js');
    if (!fs.existsSync(script)) throw new RuntimeFailure(`The inference worker script ${script} is missing: run npm run build.`);
    const worker = new Worker(script, { workerData: { dir, backend, compiled } });
    // Only these listeners come off afterwards: Worker keeps listeners of its own (port referencing).
    let onMessage: (reply: InferenceReply) => void = () => {};
    let onExit: (code: number) => void = () => {};
    let onError: (error: Error) => void = () => {};
    const ready = await new Promise<{ metadata: ExportMetadata; labels: string[] }>((resolve, reject) => {
      onMessage = (reply) => {
        if (reply.type === 'ready') resolve(reply);
        else reject(new Error(reply.type === 'error' ? reply.message : `unexpected ${reply.type}`));
      };
      onError = reject;
      onExit = (code) => reject(new Error(`the inference worker exited (code ${code}) while loading ${dir}`));
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    })
      .catch(async (error) => {
        await worker.terminate();
        throw error;
      })
      .finally(() => worker.off('message', onMessage).off('error', onError).off('exit', onExit));
    return new WorkerVersionModel(worker, ready.metadata, ready.labels);
  }

  /** Batches sent and not answered yet. */
  get inHand(): number {
    return this.pending.size;
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
      this.worker.postMessage(request, [pixels.buffer]);
    });
  }

  async dispose(): Promise<void> {
    this.failure ??= new RuntimeFailure('the model was unloaded');
    await this.worker.terminate();
  }
}

function rows(values: Float32Array, width: number): number[][] {
  const out: number[][] = [];
  for (let start = 0; start < values.length; start += width) out.push(Array.from(values.subarray(start, start + width)));
  return out;
}
