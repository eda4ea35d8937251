import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { afterEach, before, beforeEach, describe, test } from 'node:test';
import { EarlyStopping } from '../../src/train/early-stopping';

let model: tf.Sequential;
let baseline: number;

before(async () => {
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
});

beforeEach(() => {
  model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3], name: 'dense' })] });
  // The model is built: its kernel and bias exist. Everything the tests create on top must be released.
  baseline = tf.memory().numTensors;
});

afterEach(() => {
  model.dispose();
});

/** Sets every weight of the model to `value` (kernel [3, 2] and bias [2]). */
function setAll(value: number): void {
  const weights = model.getWeights().map((w) => tf.fill(w.shape, value));
  model.setWeights(weights);
  tf.dispose(weights);
}

function allWeights(): number[] {
  return model.getWeights().flatMap((w) => Array.from(w.dataSync()));
}

describe('EarlyStopping', () => {
  test('stops once the loss has not improved for `patience` epochs', () => {
    const stopping = new EarlyStopping(model, 3);
    const losses = [1.0, 0.8, 0.9, 0.85, 0.81];
    assert.deepEqual(
      losses.map((loss, epoch) => stopping.update(epoch, loss)),
      [false, false, false, false, true],
    );
    assert.equal(stopping.bestEpoch, 1);
    stopping.dispose();
  });

  test('an improvement resets the count', () => {
    const stopping = new EarlyStopping(model, 2);
    const decisions = [1.0, 1.1, 0.9, 1.0, 0.95, 0.96].map((loss, epoch) => stopping.update(epoch, loss));
    assert.deepEqual(decisions, [false, false, false, false, true, true]);
    assert.equal(stopping.bestEpoch, 2);
    stopping.dispose();
  });

  test('an equal loss is not an improvement; minDelta demands a margin', () => {
    const plain = new EarlyStopping(model, 1);
    assert.equal(plain.update(0, 0.5), false);
    assert.equal(plain.update(1, 0.5), true);
    plain.dispose();
    const withDelta = new EarlyStopping(model, 2, 0.1);
    withDelta.update(0, 1.0);
    assert.equal(withDelta.update(1, 0.95), false, 'not better by 0.1: counts as waiting');
    assert.equal(withDelta.bestEpoch, 0);
    assert.equal(withDelta.update(2, 0.95), true);
    withDelta.dispose();
  });

  test('NaN and Infinity never count as the best loss', () => {
    const stopping = new EarlyStopping(model, 5);
    stopping.update(0, Number.NaN);
    stopping.update(1, Number.POSITIVE_INFINITY);
    assert.equal(stopping.bestEpoch, -1);
    stopping.update(2, 3);
    assert.equal(stopping.bestEpoch, 2);
    stopping.update(3, Number.NaN);
    assert.equal(stopping.bestEpoch, 2);
    stopping.dispose();
  });

  test('restoreBest puts back the weights of the best epoch, not the last', () => {
    const stopping = new EarlyStopping(model, 3);
    const losses = [0.9, 0.5, 0.7, 0.6];
    losses.forEach((loss, epoch) => {
      setAll(epoch + 1); // the weights "after" this epoch: 1, 2, 3, 4
      stopping.update(epoch, loss);
    });
    assert.ok(allWeights().every((v) => v === 4), 'the model still holds the last epoch');
    stopping.restoreBest();
    assert.ok(
      allWeights().every((v) => v === 2),
      `expected epoch 1's weights (2), got ${allWeights()}`,
    );
  });

  test('the copies are snapshots: changing the model later does not change them', () => {
    const stopping = new EarlyStopping(model, 3);
    setAll(7);
    stopping.update(0, 0.1);
    setAll(-3);
    stopping.update(1, 0.2);
    stopping.restoreBest();
    assert.ok(allWeights().every((v) => v === 7), `${allWeights()}`);
  });

  test('restoreBest with no best epoch leaves the weights alone', () => {
    setAll(5);
    const stopping = new EarlyStopping(model, 1);
    stopping.update(0, Number.NaN);
    stopping.restoreBest();
    assert.ok(allWeights().every((v) => v === 5));
  });

  test('holds exactly one copy of the weights, and releases it on restoreBest', () => {
    const stopping = new EarlyStopping(model, 10);
    const weightCount = model.getWeights().length;
    [1.0, 0.9, 0.8, 0.85, 0.7, 0.75].forEach((loss, epoch) => {
      setAll(epoch);
      stopping.update(epoch, loss);
      assert.equal(tf.memory().numTensors, baseline + weightCount, `after epoch ${epoch}`);
    });
    stopping.restoreBest();
    assert.equal(tf.memory().numTensors, baseline);
  });

  test('dispose releases the copies without touching the model', () => {
    const stopping = new EarlyStopping(model, 10);
    setAll(1);
    stopping.update(0, 1.0);
    setAll(2);
    stopping.update(1, 0.5);
    stopping.dispose();
    assert.equal(tf.memory().numTensors, baseline);
    assert.ok(allWeights().every((v) => v === 2));
    stopping.dispose();
    stopping.restoreBest();
    assert.equal(tf.memory().numTensors, baseline, 'a second dispose or restore after dispose is harmless');
  });
});
