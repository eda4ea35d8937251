import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { clipByGlobalNorm, globalNorm } from '../../src/train/gradient-clipping';
import { buildHead } from '../../src/train/head';
import { ExponentialDecay } from '../../src/train/learning-rate-schedule';
import { trainHead } from '../../src/train/train-head';
import { labelledClusters, weightsOf, type LabelledFeatures } from '../helpers/labelled-clusters';

let data: LabelledFeatures;

before(async () => {
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  data = labelledClusters({ n: 30, d: 6, K: 3, separation: 2, seed: 3 });
});

after(() => data.x.dispose());

describe('clipByGlobalNorm', () => {
  test('scales all gradients together down to the clip norm, keeping their direction', () => {
    const [norm, clipped] = tf.tidy(() => {
      const gradients = [tf.tensor1d([3, 0]), tf.tensor2d([[0, 4]])];
      const n = globalNorm(gradients);
      return [n.dataSync()[0], clipByGlobalNorm(gradients, 1, n).map((g) => Array.from(g.dataSync(), (v) => Math.round(v * 1e6) / 1e6))];
    });
    assert.equal(norm, 5);
    assert.deepEqual(clipped, [
      [0.6, 0],
      [0, 0.8],
    ]);
  });

  test('leaves gradients below the clip norm untouched', () => {
    const clipped = tf.tidy(() => {
      const gradients = [tf.tensor1d([0.3, -0.4])];
      return Array.from(clipByGlobalNorm(gradients, 1, globalNorm(gradients))[0].dataSync());
    });
    assert.deepEqual(clipped.map((v) => Math.round(v * 1e6) / 1e6), [0.3, -0.4]);
  });
});

describe('clipping in the training loop', () => {
  async function stepLength(clipNorm: number): Promise<number> {
    const head = buildHead({ numFeatures: 6, numClasses: 3, dropout: 0, seed: 1 });
    try {
      const before = weightsOf(head).flat();
      await trainHead(head, data, undefined, 3, {
        epochs: 1,
        batchSize: data.labels.length,
        schedule: new ExponentialDecay(1, 1),
        patience: 10,
        seed: 1,
        optimizer: { name: 'sgd', momentum: 0 },
        clipNorm,
      });
      const after = weightsOf(head).flat();
      return Math.sqrt(after.reduce((sum, v, i) => sum + (v - before[i]) ** 2, 0));
    } finally {
      head.dispose();
    }
  }

  test('clipNorm bounds the update: one SGD step at rate 1 moves the weights by at most clipNorm', async () => {
    const free = await stepLength(0);
    const clipped = await stepLength(0.05);
    assert.ok(free > 0.1, `an unclipped step moves ${free}`);
    assert.ok(Math.abs(clipped - 0.05) < 1e-4, `a clipped step moves ${clipped}, expected the clip norm 0.05`);
  });
});
