import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildHead } from '../../src/train/head';
import { ExponentialDecay, type LearningRateSchedule } from '../../src/train/learning-rate-schedule';
import { seededRandom } from '../../src/train/seeded-random';
import { evaluateHead, trainHead, type EpochLog, type LabelledFeatures, type TrainHeadOptions } from '../../src/train/train-head';

const numFeatures = 16;
const numClasses = 3;

/** Three Gaussian clusters (unit noise) around fixed centres in 16 dimensions: linearly separable. */
function clusters(perClass: number, centres: number[][], seed: number): LabelledFeatures {
  const random = seededRandom(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const values: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < perClass * numClasses; i++) {
    const label = i % numClasses;
    labels.push(label);
    for (let d = 0; d < numFeatures; d++) values.push(centres[label][d] + gaussian());
  }
  return { x: tf.tensor2d(values, [labels.length, numFeatures]), labels };
}

let train: LabelledFeatures;
let val: LabelledFeatures;

before(async () => {
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  const centreRandom = seededRandom(2024);
  const centres = Array.from({ length: numClasses }, () => Array.from({ length: numFeatures }, () => (centreRandom() * 2 - 1) * 1.5));
  train = clusters(40, centres, 1);
  val = clusters(20, centres, 2);
});

after(() => {
  tf.dispose([train.x, val.x]);
});

function options(overrides: Partial<TrainHeadOptions> = {}): TrainHeadOptions {
  return { epochs: 12, batchSize: 16, schedule: new ExponentialDecay(0.02, 0.8), patience: 20, seed: 7, ...overrides };
}

async function trainFresh(overrides: Partial<TrainHeadOptions> = {}, headSeed = 3) {
  const head = buildHead({ numFeatures, numClasses, seed: headSeed });
  const result = await trainHead(head, train, val, numClasses, options(overrides));
  const weights = head.getWeights().map((w) => Array.from(w.dataSync()));
  return { head, result, weights };
}

describe('trainHead on separable synthetic features', () => {
  test('learns: validation accuracy above 0.9, validation loss falls', async () => {
    const { head, result } = await trainFresh();
    try {
      const before = buildHead({ numFeatures, numClasses, seed: 3 });
      const untrained = evaluateHead(before, val, numClasses);
      before.dispose();
      const trained = evaluateHead(head, val, numClasses);
      assert.ok(trained.accuracy > 0.9, `validation accuracy ${trained.accuracy}`);
      assert.ok(trained.loss < untrained.loss / 2, `validation loss ${untrained.loss} -> ${trained.loss}`);
      const last = result.history[result.history.length - 1];
      assert.ok(last.valAccuracy! > 0.9, `history ${JSON.stringify(last)}`);
      assert.equal(result.history.length, 12);
      assert.equal(result.stoppedEarly, false);
      assert.deepEqual(
        result.history.map((log) => log.epoch),
        Array.from({ length: 12 }, (_, i) => i),
      );
    } finally {
      head.dispose();
    }
  });

  test('the learning rate in the history follows the schedule', async () => {
    const schedule = new ExponentialDecay(0.03, 0.7);
    const { head, result } = await trainFresh({ schedule, epochs: 6 });
    head.dispose();
    assert.deepEqual(
      result.history.map((log) => log.learningRate),
      [0, 1, 2, 3, 4, 5].map((epoch) => schedule.rateAt(epoch)),
    );
  });

  test('the optimizer really uses the scheduled rate: a rate of 0 freezes the weights', async () => {
    // Any tfjs optimizer keeps its weights exactly when the step is 0 x the update.
    const rates = [0.05, 0.05, 0, 0, 0, 0];
    const schedule: LearningRateSchedule = { rateAt: (epoch) => rates[epoch], toConfig: () => ({ name: 'test' }) };
    const snapshots: number[][] = [];
    const head = buildHead({ numFeatures, numClasses, seed: 3 });
    try {
      await trainHead(head, train, val, numClasses, {
        ...options({ schedule, epochs: rates.length, patience: 100 }),
        onEpoch: () => snapshots.push(head.getWeights().flatMap((w) => Array.from(w.dataSync()))),
      });
    } finally {
      head.dispose();
    }
    assert.notDeepEqual(snapshots[1], snapshots[0], 'epoch 1 trains at 0.05');
    for (let epoch = 2; epoch < rates.length; epoch++) assert.deepEqual(snapshots[epoch], snapshots[1], `epoch ${epoch} trains at 0`);
  });

  test('the same seed repeats the run exactly; another training seed changes it', async () => {
    const first = await trainFresh({ epochs: 4 });
    const second = await trainFresh({ epochs: 4 });
    const otherSeed = await trainFresh({ epochs: 4, seed: 8 });
    [first, second, otherSeed].forEach(({ head }) => head.dispose());
    assert.deepEqual(second.weights, first.weights, 'same seeds, same final weights');
    assert.deepEqual(
      second.result.history.map((log) => log.loss),
      first.result.history.map((log) => log.loss),
    );
    assert.notDeepEqual(otherSeed.weights[0], first.weights[0], 'another shuffling and dropout seed gives other weights');
  });

  test('early stopping ends before `epochs` when validation loss stops improving, and restores the best epoch', async () => {
    // Two epochs of learning, then a rate of 0: validation loss is flat from epoch 2 on.
    const schedule: LearningRateSchedule = { rateAt: (epoch) => (epoch < 2 ? 0.05 : 0), toConfig: () => ({ name: 'test' }) };
    const { head, result } = await trainFresh({ schedule, epochs: 30, patience: 3 });
    try {
      assert.equal(result.stoppedEarly, true);
      assert.equal(result.bestEpoch, 1);
      assert.equal(result.history.length, 1 + 1 + 3, 'best epoch 1, then 3 epochs of patience');
      assert.ok(result.history.length < 30);
    } finally {
      head.dispose();
    }
  });

  test('the weights of the best epoch are restored when validation loss rises', async () => {
    // Validation labels rotated by one: the better the head learns, the worse its validation loss.
    const wrongVal: LabelledFeatures = { x: val.x, labels: val.labels.map((label) => (label + 1) % numClasses) };
    const head = buildHead({ numFeatures, numClasses, seed: 3 });
    try {
      const result = await trainHead(head, train, wrongVal, numClasses, options({ epochs: 30, patience: 2 }));
      assert.equal(result.stoppedEarly, true);
      const best = result.history[result.bestEpoch];
      const last = result.history[result.history.length - 1];
      assert.ok(last.valLoss! > best.valLoss!, `history ${JSON.stringify(result.history)}`);
      assert.equal(result.history.length, result.bestEpoch + 1 + 2);
      const now = evaluateHead(head, wrongVal, numClasses);
      assert.ok(Math.abs(now.loss - best.valLoss!) < 1e-5, `restored val loss ${now.loss}, best ${best.valLoss}, last ${last.valLoss}`);
    } finally {
      head.dispose();
    }
  });

  test('without validation data, early stopping watches the training loss', async () => {
    const head = buildHead({ numFeatures, numClasses, seed: 3 });
    try {
      const result = await trainHead(head, train, undefined, numClasses, options({ epochs: 3 }));
      assert.equal(result.history.length, 3);
      for (const log of result.history) {
        assert.equal(log.valLoss, undefined);
        assert.ok(Number.isFinite(log.loss));
      }
    } finally {
      head.dispose();
    }
  });

  test('tensors do not grow across epochs and return to the baseline afterwards', async () => {
    const baseline = tf.memory().numTensors;
    const head = buildHead({ numFeatures, numClasses, hiddenUnits: 8, dropout: 0.3, seed: 3 });
    const weightCount = head.getWeights().length;
    const counts: number[] = [];
    const logs: EpochLog[] = [];
    await trainHead(head, train, val, numClasses, {
      ...options({ epochs: 8, patience: 100 }),
      onEpoch: (log) => {
        logs.push(log);
        counts.push(tf.memory().numTensors);
      },
    });
    assert.equal(counts.length, 8);
    // From epoch 0's log on, early stopping and the NaN guard each hold one copy of the weights, the optimizer its
    // moments: nothing else may accumulate.
    for (let epoch = 1; epoch < counts.length; epoch++) assert.equal(counts[epoch], counts[0], `counts per epoch ${counts}`);
    assert.equal(tf.memory().numTensors, baseline + weightCount, 'after training only the head weights remain');
    head.dispose();
    assert.equal(tf.memory().numTensors, baseline);
  });
});
