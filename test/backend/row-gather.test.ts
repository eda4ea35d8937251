import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { on, valuesOf as values } from '../helpers/backends';
import { registerTrainingKernels, restoreStockKernels } from '../../src/backend/training-kernels';

describe('the wasm GatherV2 that copies whole rows', () => {
  before(async () => {
    await tf.setBackend('wasm');
    registerTrainingKernels('wasm');
  });
  after(() => restoreStockKernels('wasm'));

  it('is the kernel wasm runs once the training kernels are registered', () => {
    assert.equal(tf.getKernel('GatherV2', 'wasm')?.kernelFunc.name, 'kernelFunc');
  });

  for (const [shape, indices, axis, dtype] of [
    [[6, 4], [[5, 0, 5, 2]], 0, 'float32'],
    [[5, 2, 3, 2], [[4, 1], [0, 0]], 0, 'float32'],
    [[7], [[6, 2]], 0, 'int32'],
    [[3, 4], [[3, 1]], 1, 'float32'],
    [[3, 4], [[2, 0]], -2, 'float32'],
  ] as [number[], number[][], number, 'float32' | 'int32'][]) {
    it(`gathers like cpu from ${shape.join('x')} ${dtype} at ${JSON.stringify(indices)} along axis ${axis}`, async () => {
      const gather = () => tf.tidy(() => tf.gather(tf.tensor(values(shape, 1), shape, dtype), tf.tensor(indices.length === 1 ? indices[0] : indices, undefined, 'int32'), axis).arraySync());
      const expected = await on('cpu', gather);
      const actual = await on('wasm', gather);
      assert.deepEqual(actual, expected);
    });
  }

  it('refuses an index outside the rows, naming it, and leaks nothing', async () => {
    const before = (await on('wasm', () => tf.memory().numTensors)) as number;
    assert.throws(() => tf.tidy(() => tf.gather(tf.zeros([3, 2]), tf.tensor1d([1, 3], 'int32'))), /index value 3 is not in \[0, 2\]/);
    assert.equal(tf.memory().numTensors, before);
  });
});
