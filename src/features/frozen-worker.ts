/**
 * Worker thread of the frozen-part pool (frozen-worker-pool.ts): its own tfjs and backend, its
 * own copy of the frozen part rebuilt from a FrozenPartSpec, and one batch at a time.
 *
 * Protocol. workerData: WorkerInit. The worker posts {type: 'ready'} once loaded, then answers
 * each {type: 'run'} with {type: 'result'} (features as a transferred Float32Array) or
 * {type: 'error'}. Uncaught failures surface as the Worker's 'error'/'exit' events.
 */
import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { loadFrozenPart, pixelsToTensor, type FrozenPartSpec } from './frozen-forward';

export interface WorkerInit {
  spec: FrozenPartSpec;
  /** tfjs backend to use: the main thread's, so that results are identical ('wasm' or 'cpu'). */
  backend: string;
}

export type WorkerRequest = { type: 'run'; id: number; pixels: Uint8Array; count: number; size: number };

export type WorkerReply =
  | { type: 'ready'; backend: string }
  | { type: 'result'; id: number; values: Float32Array; shape: number[] }
  | { type: 'error'; id?: number; message: string };

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('frozen-worker.js must run as a worker thread');
  const init = workerData as WorkerInit;
  let part: Awaited<ReturnType<typeof loadFrozenPart>>;
  try {
    if (init.backend === 'wasm') require('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend(init.backend)) || tf.getBackend() !== init.backend) throw new Error(`the ${init.backend} backend failed to initialize`);
    part = await loadFrozenPart(init.spec);
  } catch (error) {
    port.postMessage({ type: 'error', message: `could not load the frozen part: ${describe(error)}` } satisfies WorkerReply);
    return;
  }
  port.on('message', async (request: WorkerRequest) => {
    if (request.type !== 'run') return;
    let input: tf.Tensor4D | undefined;
    let output: tf.Tensor | undefined;
    try {
      input = pixelsToTensor(request.pixels, request.count, request.size);
      output = part.run(input);
      // A copy: on some backends data() hands out the tensor's own storage, which must not be detached.
      const values = ((await output.data()) as Float32Array).slice();
      port.postMessage({ type: 'result', id: request.id, values, shape: output.shape } satisfies WorkerReply, [values.buffer]);
    } catch (error) {
      port.postMessage({ type: 'error', id: request.id, message: describe(error) } satisfies WorkerReply);
    } finally {
      input?.dispose();
      output?.dispose();
    }
  });
  port.postMessage({ type: 'ready', backend: tf.getBackend() } satisfies WorkerReply);
}

void main().catch((error) => {
  parentPort?.postMessage({ type: 'error', message: describe(error) } satisfies WorkerReply);
});
