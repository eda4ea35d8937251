/**
 * Worker thread of one served version (version-model.ts): its own tfjs and backend and its own copy
 * of the export, loaded with the same code as predict and evaluate.
 *
 * Protocol. workerData: {dir, backend, compiled, nice}. The worker lowers its priority by `nice` steps and
 * posts {type: 'ready', metadata, labels, priorityFailure?} once loaded (or {type: 'error'}), then answers each {type: 'predict'} with {type: 'result'}
 * (probabilities as a transferred Float32Array, row-major) or {type: 'error'}.
 */
import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import type { ExportMetadata } from '../export/export-metadata';
import { loadExport, type LoadedExport } from '../export/load-export';
import { lowerThreadPriority, nameThread } from './thread-priority';

export type InferenceRequest = { type: 'predict'; id: number; pixels: Float32Array; count: number; size: number };

export type InferenceReply =
  | { type: 'ready'; metadata: ExportMetadata; labels: string[]; priorityFailure?: string }
  | { type: 'result'; id: number; values: Float32Array }
  | { type: 'error'; id?: number; message: string };

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('inference-worker.js must run as a worker thread');
  const { dir, backend, compiled, nice } = workerData as { dir: string; backend: string; compiled?: boolean; nice?: number };
  nameThread('serve-inference');
  const priorityFailure = lowerThreadPriority(nice ?? 0);
  let loaded: LoadedExport;
  try {
    if (backend === 'wasm') require('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend(backend)) || tf.getBackend() !== backend) throw new Error(`the ${backend} backend failed to initialize`);
    // Compiled (batch norm folded, fused convolutions) unless runtime.compiledForward is off.
    loaded = await loadExport(dir, { compiled: compiled ?? true });
  } catch (error) {
    port.postMessage({ type: 'error', message: describe(error) } satisfies InferenceReply);
    return;
  }
  port.on('message', async (request: InferenceRequest) => {
    if (request.type !== 'predict') return;
    let output: tf.Tensor | undefined;
    try {
      output = tf.tidy(() => loaded.predict(tf.tensor4d(request.pixels, [request.count, request.size, request.size, 3])));
      // A copy: on some backends data() hands out the tensor's own storage, which must not be detached.
      const values = ((await output.data()) as Float32Array).slice();
      port.postMessage({ type: 'result', id: request.id, values } satisfies InferenceReply, [values.buffer]);
    } catch (error) {
      port.postMessage({ type: 'error', id: request.id, message: describe(error) } satisfies InferenceReply);
    } finally {
      output?.dispose();
    }
  });
  port.postMessage({ type: 'ready', metadata: loaded.metadata, labels: loaded.labels, priorityFailure } satisfies InferenceReply);
}

void main().catch((error) => {
  parentPort?.postMessage({ type: 'error', message: describe(error) } satisfies InferenceReply);
});
