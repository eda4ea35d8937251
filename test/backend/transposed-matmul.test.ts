import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { on, valuesOf as values } from '../helpers/backends';
import { registerTransposedMatMul, restoreStockMatMul, transposedMatMulRegistered } from '../../src/backend/kernels/transposed-matmul';

describe('the wasm BatchMatMul that transposes its operands explicitly', () => {
  before(async () => {
    await tf.setBackend('wasm');
    registerTransposedMatMul();
  });
  after(() => restoreStockMatMul());

  it('is the kernel wasm runs', () => {
    assert.ok(transposedMatMulRegistered());
    assert.equal(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc.name, 'kernelFunc');
  });

  for (const [aShape, bShape, transposeB] of [
    [[7, 5], [7, 3], false],
    [[7, 5], [3, 7], true],
    [[2, 6, 4], [2, 6, 5], false],
  ] as [number[], number[], boolean][]) {
    it(`matches cpu for a^T b with a ${aShape.join('x')}, b ${bShape.join('x')}${transposeB ? ' transposed' : ''}`, async () => {
      const product = () => tf.tidy(() => tf.matMul(tf.tensor(values(aShape, 1), aShape), tf.tensor(values(bShape, 2), bShape), true, transposeB).arraySync());
      const expected = await on('cpu', product);
      const actual = await on('wasm', product);
      assert.deepEqual(
        (actual as number[][]).flat(2).map((v) => v.toFixed(4)),
        (expected as number[][]).flat(2).map((v) => v.toFixed(4)),
      );
    });
  }

  for (const rows of [16, 2]) {
    it(`computes a b^T with ${rows} rows of a like cpu, transposing b explicitly only when a has 8 rows or more`, async () => {
      const product = () => tf.tidy(() => tf.matMul(tf.tensor(values([rows, 6], 5), [rows, 6]), tf.tensor(values([4, 6], 6), [4, 6]), false, true).arraySync());
      const expected = await on('cpu', product);
      const actual = await on('wasm', product);
      assert.deepEqual((actual as number[][]).flat().map((v) => v.toFixed(4)), (expected as number[][]).flat().map((v) => v.toFixed(4)));
      const kernels = (await tf.profile(() => tf.tidy(() => void product()))).kernels.map((k) => k.name);
      assert.equal(kernels.includes('Transpose'), rows >= 8, kernels.join(', '));
    });
  }

  for (const [batch, rows, depth, columns, split] of [
    [3, 32, 48, 64, true],
    [3, 4, 6, 5, false],
  ] as [number, number, number, number, boolean][]) {
    it(`computes ${batch} products of ${rows}x${depth}x${columns} like cpu, ${split ? 'one by one' : 'as one batch'}`, async () => {
      const product = () => tf.tidy(() => tf.matMul(tf.tensor(values([batch, rows, depth], 7), [batch, rows, depth]), tf.tensor(values([batch, depth, columns], 8), [batch, depth, columns])).arraySync());
      const expected = await on('cpu', product);
      const actual = await on('wasm', product);
      const expectedValues = (expected as number[][][]).flat(2);
      (actual as number[][][]).flat(2).forEach((v, i) => assert.ok(Math.abs(v - expectedValues[i]) < 1e-4, `${i}: ${v} vs ${expectedValues[i]}`));
      const kernels = (await tf.profile(() => tf.tidy(() => void product()))).kernels.map((k) => k.name);
      assert.equal(kernels.filter((k) => k === 'GatherV2').length, split ? 2 * batch : 0, kernels.join(', '));
    });
  }

  it('gives a dense layer the same kernel gradient as cpu, without leaking tensors', async () => {
    const gradient = () =>
      tf.tidy(() => {
        const x = tf.tensor2d(values([6, 4], 3), [6, 4]);
        const w = tf.tensor2d(values([4, 3], 4), [4, 3]);
        return tf.grad((kernel: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, kernel))))(w).arraySync();
      });
    const expected = await on('cpu', gradient);
    const before = (await on('wasm', () => tf.memory().numTensors)) as number;
    const actual = await on('wasm', gradient);
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(
      (actual as number[][]).flat().map((v) => v.toFixed(3)),
      (expected as number[][]).flat().map((v) => v.toFixed(3)),
    );
  });
});
