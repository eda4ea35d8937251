import * as tf from '@tensorflow/tfjs';
import { loadExport } from '../export/load-export';
import type { ExportMetadata } from '../export/export-metadata';
import type { Logger } from '../logger';
import { stackPixels } from '../pipeline/classify-images';
import type { WorkerPriority } from './thread-priority';
import { WorkerPoolModel } from './worker-pool-model';

/** Raw RGB [0, 255] pixels of one image, HWC at the model's input size. */
export type Pixels = Uint8Array | Float32Array;

/** Inference workers of a version able to compute, out of how many it runs. */
export interface WorkerHealth {
  alive: number;
  total: number;
}

/** One loaded export version as the server uses it: its contract, and batched forward passes. */
export interface VersionModel {
  readonly metadata: ExportMetadata;
  readonly labels: string[];
  /** Batches it computes at once (its inference workers). */
  readonly parallelism: number;
  /** Probabilities per image for one batch. */
  predict(images: Pixels[]): Promise<number[][]>;
  health(): WorkerHealth;
  dispose(): Promise<void>;
}

export type InferenceThread = 'worker' | 'main';

export interface LoadVersionOptions {
  thread: InferenceThread;
  backend: string;
  workers: number;
  loadTimeoutMs: number;
  /** Run the export compiled (runtime.compiledForward; the default) rather than through predict. */
  compiled?: boolean;
  logger?: Logger;
  /** How far below the thread starting them inference workers run; by default at its priority. */
  priority?: WorkerPriority;
}

/**
 * Loads an export version. In worker threads (their own tfjs and backend), forward passes leave the
 * main thread free to parse, decode and answer requests meanwhile, so the next batch fills while
 * one computes; in the main thread, a forward pass stops everything else until it ends.
 * Abandoned after loadTimeoutMs (the workers are terminated); `signal` abandons it earlier.
 */
export async function loadVersionModel(dir: string, options: LoadVersionOptions, signal?: AbortSignal): Promise<VersionModel> {
  const timeout = AbortSignal.timeout(options.loadTimeoutMs);
  const abort = signal ? AbortSignal.any([signal, timeout]) : timeout;
  const loading = options.thread === 'main' ? mainThreadModel(dir, options.compiled ?? true) : WorkerPoolModel.start({ dir, ...options, workers: Math.max(1, options.workers) }, abort);
  try {
    return await abandonOnAbort(loading, abort);
  } catch (error) {
    if (timeout.aborted) throw new Error(`the version did not load within ${options.loadTimeoutMs / 1000} s (serve.loadTimeoutSeconds); a file that cannot be read?`);
    throw error;
  }
}

/** A main-thread load cannot be interrupted: on abort, its model is disposed whenever it arrives. */
function abandonOnAbort(loading: Promise<VersionModel>, signal: AbortSignal): Promise<VersionModel> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      loading.then((model) => model.dispose(), () => undefined);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    loading.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
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
    health: () => ({ alive: 1, total: 1 }),
    async dispose() {
      loaded.dispose();
    },
  };
}
