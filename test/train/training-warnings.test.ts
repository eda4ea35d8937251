import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { buildHead } from '../../src/train/head';
import { ExponentialDecay } from '../../src/train/learning-rate-schedule';
import { trainHead } from '../../src/train/train-head';
import { TrainingMonitor } from '../../src/train/training-warnings';
import { clusterSplit } from '../helpers/labelled-clusters';

before(async () => {
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
});

describe('TrainingMonitor', () => {
  test('warns once validation loss has risen while training loss fell over overfitEpochs epochs', () => {
    const monitor = new TrainingMonitor({ numClasses: 3, overfitEpochs: 2 });
    const epochs = [
      [1.0, 1.0],
      [0.8, 0.9],
      [0.7, 0.95], // val 0.95 is below 1.0 two epochs before
      [0.6, 0.9], // equal to two epochs before: not risen
      [0.5, 0.95], // equal to two epochs before
      [0.4, 1.0], // above 0.9 two epochs before, training fell: warn
      [0.3, 1.1], // already warned, no new best since
    ];
    const kinds = epochs.map(([loss, valLoss], epoch) => monitor.observe({ epoch, loss, valLoss }).map((w) => w.kind));
    assert.deepEqual(kinds, [[], [], [], [], [], ['overfitting'], []]);
    // A rise of less than 10% is noise (say 0.0032 -> 0.0035 on a model that is right everywhere).
    const quiet = new TrainingMonitor({ numClasses: 3, overfitEpochs: 2 });
    const noisy = [
      [0.01, 0.003],
      [0.005, 0.0031],
      [0.002, 0.00325],
      [0.001, 0.0034],
    ];
    assert.deepEqual(noisy.flatMap(([loss, valLoss], epoch) => quiet.observe({ epoch, loss, valLoss })), []);
  });

  test('warns when predictions stay near uniform after uniformAfterEpochs epochs', () => {
    const monitor = new TrainingMonitor({ numClasses: 4, uniformAfterEpochs: 3 });
    // Chance is 0.25; near uniform means below 0.25 + 0.1 x 0.75 = 0.325.
    assert.deepEqual(monitor.observe({ epoch: 0, loss: 1.3, meanMaxProbability: 0.26 }), [], 'too early to tell');
    assert.deepEqual(monitor.observe({ epoch: 1, loss: 1.3, meanMaxProbability: 0.27 }), []);
    const warnings = monitor.observe({ epoch: 2, loss: 1.3, meanMaxProbability: 0.3 });
    assert.deepEqual(warnings.map((w) => w.kind), ['uniform-predictions']);
    assert.match(warnings[0].message, /mean top probability is 0\.300 for 4 classes \(chance 0\.250\)/);
    assert.deepEqual(monitor.observe({ epoch: 3, loss: 1.3, meanMaxProbability: 0.3 }), [], 'said once');
    const moving = new TrainingMonitor({ numClasses: 4, uniformAfterEpochs: 1 });
    assert.deepEqual(moving.observe({ epoch: 0, loss: 0.5, meanMaxProbability: 0.6 }), []);
  });

  test('warns when the training loss stays above the loss of uniform guessing from the second epoch', () => {
    const monitor = new TrainingMonitor({ numClasses: 4 });
    assert.deepEqual(monitor.observe({ epoch: 0, loss: 2 }), [], 'the first epoch may start high');
    const warnings = monitor.observe({ epoch: 1, loss: 5, learningRate: 1e6 });
    assert.deepEqual(warnings.map((w) => w.kind), ['diverging']);
    assert.match(warnings[0].message, /above ln\(4\) = 1\.3863.*at learning rate 1\.00e\+6.*--learning-rate/);
    const healthy = new TrainingMonitor({ numClasses: 4 });
    assert.deepEqual([0, 1, 2].flatMap((epoch) => healthy.observe({ epoch, loss: 1.2 - epoch * 0.3 })), []);
    const slowStart = new TrainingMonitor({ numClasses: 4 });
    assert.deepEqual([0, 1, 2].flatMap((epoch) => slowStart.observe({ epoch, loss: 4 - epoch })), [], 'high but falling is not diverging');
  });

  test('its state round-trips through JSON', () => {
    const monitor = new TrainingMonitor({ numClasses: 3, overfitEpochs: 2 });
    monitor.observe({ epoch: 0, loss: 1, valLoss: 1 });
    monitor.observe({ epoch: 1, loss: 0.9, valLoss: 1.1 });
    const restored = new TrainingMonitor({ numClasses: 3, overfitEpochs: 2 });
    restored.setState(JSON.parse(JSON.stringify(monitor.getState())));
    assert.deepEqual(restored.observe({ epoch: 2, loss: 0.8, valLoss: 1.2 }).map((w) => w.kind), ['overfitting']);
  });
});

describe('warnings from the training loop', () => {
  test('a head that cannot learn (rate ~0) is reported as predicting near uniform; a learning one is not', async () => {
    const data = clusterSplit({ n: 90, trainCount: 60, d: 8, K: 3, separation: 2, seed: 4 });
    const run = async (rate: number) => {
      const head = buildHead({ numFeatures: 8, numClasses: 3, seed: 1, initializer: 'truncatedNormal', initStddev: 0.001 });
      try {
        const result = await trainHead(head, data.train, data.val, 3, { epochs: 4, batchSize: 16, schedule: new ExponentialDecay(rate, 1), patience: 10, seed: 1 });
        return result.warnings.map((w) => w.kind);
      } finally {
        head.dispose();
      }
    };
    try {
      assert.ok((await run(1e-9)).includes('uniform-predictions'));
      assert.ok(!(await run(0.05)).includes('uniform-predictions'));
    } finally {
      data.dispose();
    }
  });

  test('validation labels that contradict the training labels raise the overfitting warning', async () => {
    const data = clusterSplit({ n: 90, trainCount: 60, d: 8, K: 3, separation: 2, seed: 4 });
    const wrongVal = { x: data.val.x, labels: data.val.labels.map((label) => (label + 1) % 3) };
    const head = buildHead({ numFeatures: 8, numClasses: 3, seed: 1 });
    try {
      const result = await trainHead(head, data.train, wrongVal, 3, {
        epochs: 8,
        batchSize: 16,
        schedule: new ExponentialDecay(0.02, 1),
        patience: 100,
        seed: 1,
        warnings: { overfitEpochs: 3 },
      });
      const overfitting = result.warnings.filter((w) => w.kind === 'overfitting');
      assert.equal(overfitting.length, 1, JSON.stringify(result.warnings));
      assert.match(overfitting[0].message, /over the last 3 epochs validation loss rose \(.*\) while training loss fell/);
    } finally {
      head.dispose();
      data.dispose();
    }
  });
});
