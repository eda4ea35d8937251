import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildHead } from '../../src/train/head';
import { ExponentialDecay } from '../../src/train/learning-rate-schedule';
import { trainHead } from '../../src/train/train-head';
import { clusterSplit } from '../helpers/labelled-clusters';
import { temporaryDir } from '../helpers/sample-data';

let data: ReturnType<typeof clusterSplit>;

before(async () => {
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  data = clusterSplit({ n: 90, trainCount: 60, d: 8, K: 3, separation: 2, seed: 21 });
});

after(() => data.dispose());

describe('fit', () => {
  test('the plateau reduction halves the logged rate after `patience` epochs without a lower validation loss', async () => {
    // Validation labels rotated by one: the better the head learns, the worse the validation loss, so it never improves after epoch 0.
    const wrongVal = { x: data.val.x, labels: data.val.labels.map((label) => (label + 1) % 3) };
    const head = buildHead({ numFeatures: 8, numClasses: 3, seed: 1 });
    const plateaus: number[] = [];
    try {
      const result = await trainHead(head, data.train, wrongVal, 3, {
        epochs: 8,
        batchSize: 16,
        schedule: new ExponentialDecay(0.01, 1),
        patience: 100,
        seed: 1,
        plateau: { patience: 2, factor: 0.5 },
        onWarning: (warning) => warning.kind === 'plateau' && plateaus.push(warning.epoch),
      });
      assert.deepEqual(
        result.history.map((log) => log.learningRate),
        [0.01, 0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025, 0.00125],
      );
      assert.deepEqual(result.rateReductions, [
        { epoch: 2, multiplier: 0.5 },
        { epoch: 4, multiplier: 0.25 },
        { epoch: 6, multiplier: 0.125 },
      ]);
      assert.deepEqual(plateaus, [2, 4, 6], 'each halving is logged');
    } finally {
      head.dispose();
    }
  });

  test('tensors do not grow across epochs with every mechanism on, and return to the baseline afterwards', async () => {
    const baseline = tf.memory().numTensors;
    const head = buildHead({ numFeatures: 8, numClasses: 3, hiddenUnits: 8, dropout: 0.3, initializer: 'orthogonal', seed: 3 });
    const weightCount = head.getWeights().length;
    const counts: number[] = [];
    // Contradicting validation labels, so that the plateau reduction and the overfitting warning take part too.
    const wrongVal = { x: data.val.x, labels: data.val.labels.map((label) => (label + 1) % 3) };
    const result = await trainHead(head, data.train, wrongVal, 3, {
      epochs: 8,
      batchSize: 16,
      schedule: new ExponentialDecay(0.02, 0.9),
      patience: 100,
      seed: 1,
      optimizer: { name: 'sgd', momentum: 0.9 },
      plateau: { patience: 1, factor: 0.5 },
      l2: 0.01,
      labelSmoothing: 0.1,
      classWeights: 'balanced',
      clipNorm: 0.5,
      checkpoint: { file: path.join(temporaryDir('ckpt'), 'head.ckpt') },
      onEpoch: () => counts.push(tf.memory().numTensors),
    });
    assert.equal(counts.length, 8);
    assert.ok(result.rateReductions.length > 0, 'the plateau reduction ran');
    for (let epoch = 1; epoch < counts.length; epoch++) assert.equal(counts[epoch], counts[0], `counts per epoch ${counts}`);
    assert.equal(tf.memory().numTensors, baseline + weightCount, 'after training only the head weights remain');
    head.dispose();
    assert.equal(tf.memory().numTensors, baseline);
  });
});
