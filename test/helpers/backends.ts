import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';

/** Values of a shape, reproducible on any backend. */
export const valuesOf = (shape: number[], seed: number) => Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(seed * 7.1 + i * 1.3));

/** `f` run on `backend` (switched to first). */
export async function on<T>(backend: 'wasm' | 'cpu', f: () => T): Promise<T> {
  assert.ok(await tf.setBackend(backend));
  return f();
}
