import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { evaluateNetwork, type FitOptions } from '../../src/train/fit';
import { buildHead } from '../../src/train/head';
import { ExponentialDecay } from '../../src/train/learning-rate-schedule';
import { balancedClassWeights, l2Penalty, trainingLoss } from '../../src/train/loss';
import { trainHead } from '../../src/train/train-head';
import { clusterSplit, labelledClusters } from '../helpers/labelled-clusters';

before(async () => {
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
});

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-5, `${what}: ${actual}, expected ${expected}`);

function lossOf(rows: number[][], labels: number[], settings: Parameters<typeof trainingLoss>[3]): number {
  return tf.tidy(() => trainingLoss(tf.tensor2d(rows), tf.tensor1d(labels, 'int32'), rows[0].length, settings).dataSync()[0]);
}

describe('trainingLoss', () => {
  const rows = [
    [0.7, 0.2, 0.1],
    [0.1, 0.6, 0.3],
  ];

  test('without options it is the mean cross-entropy', () => {
    close(lossOf(rows, [0, 2], {}), -(Math.log(0.7) + Math.log(0.3)) / 2, 'plain');
  });

  test('label smoothing s moves the targets to (1 - s) one-hot + s / numClasses', () => {
    const s = 0.3;
    const expected = (row: number[], label: number) => -row.reduce((sum, p, k) => sum + ((k === label ? 1 - s : 0) + s / 3) * Math.log(p), 0);
    close(lossOf(rows, [0, 2], { labelSmoothing: s }), (expected(rows[0], 0) + expected(rows[1], 2)) / 2, 'smoothed');
    // A confident, correct prediction now costs more than with hard targets.
    assert.ok(lossOf([[0.98, 0.01, 0.01]], [0], { labelSmoothing: 0.1 }) > lossOf([[0.98, 0.01, 0.01]], [0], {}) + 0.1);
  });

  test('class weights scale each example by its class weight (mean over the batch)', () => {
    const weights = [2, 1, 0.5];
    close(lossOf(rows, [0, 2], { classWeights: weights }), (-2 * Math.log(0.7) - 0.5 * Math.log(0.3)) / 2, 'weighted');
  });

  test('balanced class weights are numExamples / (numClasses x examplesOfClass)', () => {
    assert.deepEqual(balancedClassWeights([0, 0, 0, 1], 2), [4 / 6, 2]);
    assert.deepEqual(balancedClassWeights([0, 1, 2, 0, 1, 2], 3), [1, 1, 1]);
    assert.deepEqual(balancedClassWeights([0, 0], 2), [0.5, 1], 'an empty class gets 1');
  });

  test('l2Penalty is l2 x the sum of squares', () => {
    const a = tf.variable(tf.tensor1d([1, -2]));
    const b = tf.variable(tf.tensor2d([[3]]));
    close(tf.tidy(() => l2Penalty([a, b], 0.01).dataSync()[0]), 0.01 * 14, 'l2');
    tf.dispose([a, b]);
  });
});

describe('regularization in the training loop', () => {
  const numFeatures = 8;

  async function train(numClasses: number, data: ReturnType<typeof clusterSplit>, overrides: Partial<FitOptions>, evaluate = data.val) {
    const head = buildHead({ numFeatures, numClasses, dropout: 0, seed: 3 });
    try {
      await trainHead(head, data.train, data.val, numClasses, {
        epochs: 15,
        batchSize: 16,
        schedule: new ExponentialDecay(0.05, 1),
        patience: 100,
        seed: 2,
        ...overrides,
      });
      const probabilities = tf.tidy(() => head.predict(evaluate.x) as tf.Tensor2D);
      const rows = probabilities.arraySync() as number[][];
      probabilities.dispose();
      const kernelNorm = tf.tidy(() => tf.norm(head.getLayer('head_probabilities').getWeights()[0]).dataSync()[0]);
      return { rows, kernelNorm, metrics: evaluateNetwork((x) => head.predict(x) as tf.Tensor2D, evaluate, numClasses) };
    } finally {
      head.dispose();
    }
  }

  test('label smoothing keeps the trained model from full confidence', async () => {
    const data = clusterSplit({ n: 120, trainCount: 90, d: numFeatures, K: 3, separation: 3, seed: 8 });
    try {
      // Separable clusters: hard targets push every probability towards 1; smoothed targets (0.8, 0.1, 0.1) hold it back.
      const hard = await train(3, data, {}, data.train);
      const smooth = await train(3, data, { labelSmoothing: 0.3 }, data.train);
      assert.ok(hard.metrics.meanMaxProbability > 0.99, `hard targets: mean top probability ${hard.metrics.meanMaxProbability}`);
      assert.ok(smooth.metrics.meanMaxProbability < 0.96, `smoothed: mean top probability ${smooth.metrics.meanMaxProbability}`);
    } finally {
      data.dispose();
    }
  });

  test('balanced class weights make a rare class predicted more often', async () => {
    // Overlapping classes, class 1 rare in training (10 of 100); predictions counted on a balanced set.
    const pool = labelledClusters({ n: 400, d: numFeatures, K: 2, separation: 0.4, seed: 5 });
    const indexes = pool.labels.flatMap((label, i) => (label === 0 ? [i] : []));
    const rare = pool.labels.flatMap((label, i) => (label === 1 ? [i] : []));
    const trainIndexes = [...indexes.slice(0, 90), ...rare.slice(0, 10)];
    const evalIndexes = [...indexes.slice(100, 200), ...rare.slice(100, 200)];
    const pick = (list: number[]) => ({ x: tf.gather(pool.x, list) as tf.Tensor2D, labels: list.map((i) => pool.labels[i]) });
    const data = { train: pick(trainIndexes), val: pick(evalIndexes), dispose() {} };
    try {
      const count = (rows: number[][]) => rows.filter((row) => row[1] > row[0]).length;
      const plain = count((await train(2, data, {})).rows);
      const balanced = count((await train(2, data, { classWeights: 'balanced' })).rows);
      assert.ok(balanced > plain + 20, `rare class predicted ${plain} times without weights, ${balanced} with balanced weights (of 200)`);
    } finally {
      tf.dispose([pool.x, data.train.x, data.val.x]);
    }
  });

  test('L2 weight decay shrinks the kernels', async () => {
    const data = clusterSplit({ n: 120, trainCount: 90, d: numFeatures, K: 3, separation: 3, seed: 8 });
    try {
      const free = await train(3, data, {});
      const decayed = await train(3, data, { l2: 0.05 });
      assert.ok(decayed.kernelNorm < 0.75 * free.kernelNorm, `kernel norm ${free.kernelNorm} without L2, ${decayed.kernelNorm} with`);
    } finally {
      data.dispose();
    }
  });
});
