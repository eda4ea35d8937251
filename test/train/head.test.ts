import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { buildHead, type HeadArgs } from '../../src/train/head';

/** tfjs draws "normal" initial weights from a normal truncated at 2 standard deviations, whose std is this share of the nominal one. */
const truncatedStdRatio = 0.8796256610342398;

before(async () => {
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
});

function kernelOf(head: tf.Sequential, layerName: string): Float32Array {
  return head.getLayer(layerName).getWeights()[0].dataSync() as Float32Array;
}

function moments(values: Float32Array): { mean: number; std: number; maxAbs: number } {
  let sum = 0;
  let maxAbs = 0;
  for (const v of values) {
    sum += v;
    maxAbs = Math.max(maxAbs, Math.abs(v));
  }
  const mean = sum / values.length;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  return { mean, std: Math.sqrt(squares / values.length), maxAbs };
}

/** Weights drawn from a normal of std `nominal` truncated at 2 std: right scale, right bound, centred. */
function assertTruncatedNormal(values: Float32Array, nominal: number, what: string): void {
  const { mean, std, maxAbs } = moments(values);
  const expected = truncatedStdRatio * nominal;
  assert.ok(Math.abs(std / expected - 1) < 0.03, `${what}: std ${std}, expected ${expected} (nominal ${nominal})`);
  assert.ok(maxAbs <= 2 * nominal * (1 + 1e-6), `${what}: |w| up to ${maxAbs}, beyond 2 x ${nominal}`);
  assert.ok(Math.abs(mean) < 0.05 * nominal, `${what}: mean ${mean}`);
  assert.ok(std < 0.2, `${what}: std ${std} is N(0, 1)-like`);
}

function withHead<T>(args: HeadArgs, use: (head: tf.Sequential) => T): T {
  const head = buildHead(args);
  try {
    return use(head);
  } finally {
    head.dispose();
  }
}

describe('buildHead', () => {
  test('without hidden units: head_dropout then a softmax head_probabilities layer', () => {
    withHead({ numFeatures: 32, numClasses: 4, seed: 1 }, (head) => {
      assert.deepEqual(
        head.layers.map((layer) => layer.name),
        ['head_dropout', 'head_probabilities'],
      );
      assert.deepEqual(head.inputs[0].shape, [null, 32]);
      assert.deepEqual(head.outputs[0].shape, [null, 4]);
      assert.equal((head.getLayer('head_dropout').getConfig() as { rate: number }).rate, 0.2, 'dropout defaults to 0.2');
      assert.equal((head.getLayer('head_probabilities').getConfig() as { activation: string }).activation, 'softmax');
    });
  });

  test('with hidden units: a ReLU head_hidden layer of that width and a second dropout', () => {
    withHead({ numFeatures: 32, numClasses: 3, hiddenUnits: 16, dropout: 0.3, seed: 1 }, (head) => {
      assert.deepEqual(
        head.layers.map((layer) => layer.name),
        ['head_dropout', 'head_hidden', 'head_hidden_dropout', 'head_probabilities'],
      );
      const hidden = head.getLayer('head_hidden');
      assert.equal((hidden.getConfig() as { activation: string }).activation, 'relu');
      assert.deepEqual(hidden.getWeights()[0].shape, [32, 16]);
      assert.deepEqual(head.getLayer('head_probabilities').getWeights()[0].shape, [16, 3]);
      for (const name of ['head_dropout', 'head_hidden_dropout']) {
        assert.equal((head.getLayer(name).getConfig() as { rate: number }).rate, 0.3);
      }
    });
  });

  test('hiddenUnits 0 means no hidden layer', () => {
    withHead({ numFeatures: 8, numClasses: 2, hiddenUnits: 0, seed: 1 }, (head) => {
      assert.ok(head.layers.every((layer) => layer.name.startsWith('head_')));
      assert.ok(!head.layers.some((layer) => layer.name === 'head_hidden'));
      assert.equal(head.layers.filter((layer) => layer.getClassName() === 'Dense').length, 1);
    });
  });

  test('outputs are probabilities: each row is positive and sums to 1', () => {
    for (const hiddenUnits of [0, 8]) {
      withHead({ numFeatures: 12, numClasses: 5, hiddenUnits, seed: 3 }, (head) => {
        const rows = tf.tidy(() => (head.predict(tf.randomNormal([6, 12], 0, 3, 'float32', 9)) as tf.Tensor).arraySync() as number[][]);
        assert.equal(rows.length, 6);
        for (const row of rows) {
          assert.equal(row.length, 5);
          assert.ok(row.every((p) => p > 0 && p < 1), `row ${row}`);
          assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, `row ${row} sums to ${row.reduce((a, b) => a + b, 0)}`);
        }
      });
    }
  });

  test('glorotNormal kernels have std close to sqrt(2 / (fanIn + fanOut)), never N(0, 1)', () => {
    withHead({ numFeatures: 1280, numClasses: 64, hiddenUnits: 0, initializer: 'glorotNormal', seed: 5 }, (head) => {
      assertTruncatedNormal(kernelOf(head, 'head_probabilities'), Math.sqrt(2 / (1280 + 64)), 'glorotNormal output');
    });
    withHead({ numFeatures: 1024, numClasses: 10, hiddenUnits: 256, seed: 5 }, (head) => {
      assertTruncatedNormal(kernelOf(head, 'head_hidden'), Math.sqrt(2 / (1024 + 256)), 'glorotNormal (default) hidden');
    });
  });

  test('truncatedNormal kernels have std close to 1 / sqrt(fanIn), never N(0, 1)', () => {
    withHead({ numFeatures: 1280, numClasses: 64, initializer: 'truncatedNormal', seed: 5 }, (head) => {
      assertTruncatedNormal(kernelOf(head, 'head_probabilities'), 1 / Math.sqrt(1280), 'truncatedNormal output');
    });
    withHead({ numFeatures: 1024, numClasses: 64, hiddenUnits: 256, initializer: 'truncatedNormal', seed: 5 }, (head) => {
      assertTruncatedNormal(kernelOf(head, 'head_hidden'), 1 / Math.sqrt(1024), 'truncatedNormal hidden');
      // The output layer's fan-in is the hidden width, not the feature count.
      assertTruncatedNormal(kernelOf(head, 'head_probabilities'), 1 / Math.sqrt(256), 'truncatedNormal output after hidden');
    });
  });

  test('glorotUniform kernels are uniform in +-sqrt(6 / (fanIn + fanOut)), std limit / sqrt(3)', () => {
    withHead({ numFeatures: 1280, numClasses: 64, initializer: 'glorotUniform', seed: 5 }, (head) => {
      const values = kernelOf(head, 'head_probabilities');
      const limit = Math.sqrt(6 / (1280 + 64));
      const { mean, std, maxAbs } = moments(values);
      assert.ok(maxAbs <= limit * (1 + 1e-6) && maxAbs > 0.99 * limit, `|w| up to ${maxAbs}, limit ${limit}`);
      assert.ok(Math.abs(std / (limit / Math.sqrt(3)) - 1) < 0.03, `std ${std}`);
      assert.ok(Math.abs(mean) < 0.05 * limit, `mean ${mean}`);
      // A uniform has no tails: a quarter of the values lies beyond half the limit on each side together.
      const outer = values.filter((v) => Math.abs(v) > limit / 2).length / values.length;
      assert.ok(Math.abs(outer - 0.5) < 0.02, `share beyond limit/2: ${outer}`);
    });
  });

  test('truncatedNormal takes a configured stddev (initStddev)', () => {
    withHead({ numFeatures: 1280, numClasses: 64, initializer: 'truncatedNormal', initStddev: 0.01, seed: 5 }, (head) => {
      assertTruncatedNormal(kernelOf(head, 'head_probabilities'), 0.01, 'truncatedNormal stddev 0.01');
    });
  });

  test('orthogonal kernels have orthonormal columns (W^T W = I), in the hidden and the output layer', () => {
    withHead({ numFeatures: 512, numClasses: 10, hiddenUnits: 64, initializer: 'orthogonal', seed: 5 }, (head) => {
      for (const [name, rows, cols] of [
        ['head_hidden', 512, 64],
        ['head_probabilities', 64, 10],
      ] as const) {
        const gram = tf.tidy(() => {
          const w = tf.tensor2d(kernelOf(head, name), [rows, cols]);
          return tf.matMul(w, w, true, false).arraySync() as number[][];
        });
        for (let i = 0; i < cols; i++) {
          for (let j = 0; j < cols; j++) assert.ok(Math.abs(gram[i][j] - (i === j ? 1 : 0)) < 1e-4, `${name} gram[${i}][${j}] = ${gram[i][j]}`);
        }
        // Unit columns over `rows` entries: each entry has std 1 / sqrt(rows), far from N(0, 1).
        const { std } = moments(kernelOf(head, name));
        assert.ok(Math.abs(std * Math.sqrt(rows) - 1) < 0.05, `${name} std ${std}`);
      }
    });
    // More units than inputs: the rows are orthonormal instead.
    withHead({ numFeatures: 8, numClasses: 16, initializer: 'orthogonal', seed: 2 }, (head) => {
      const gram = tf.tidy(() => {
        const w = tf.tensor2d(kernelOf(head, 'head_probabilities'), [8, 16]);
        return tf.matMul(w, w, false, true).arraySync() as number[][];
      });
      gram.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - (i === j ? 1 : 0)) < 1e-4, `gram[${i}][${j}] = ${v}`)));
    });
  });

  test('biases start at zero', () => {
    withHead({ numFeatures: 16, numClasses: 3, hiddenUnits: 8, seed: 5 }, (head) => {
      for (const name of ['head_hidden', 'head_probabilities']) {
        assert.ok((head.getLayer(name).getWeights()[1].dataSync() as Float32Array).every((v) => v === 0), name);
      }
    });
  });

  test('the same seed gives identical weights; another seed different ones', () => {
    for (const initializer of ['glorotNormal', 'glorotUniform', 'truncatedNormal', 'orthogonal'] as const) {
      const weightsFor = (seed: number) =>
        withHead({ numFeatures: 64, numClasses: 4, hiddenUnits: 16, initializer, seed }, (head) => head.getWeights().map((w) => Array.from(w.dataSync())));
      const a = weightsFor(42);
      assert.deepEqual(weightsFor(42), a, initializer);
      const b = weightsFor(1234);
      assert.notDeepEqual(b[0], a[0], `${initializer}: hidden kernel should change with the seed`);
      assert.notDeepEqual(b[2], a[2], `${initializer}: output kernel should change with the seed`);
    }
  });

  test('the hidden and output kernels are not drawn from the same stream', () => {
    // Same shape for both dense layers so that identical seeds would give identical kernels.
    withHead({ numFeatures: 16, numClasses: 16, hiddenUnits: 16, seed: 9 }, (head) => {
      assert.notDeepEqual(Array.from(kernelOf(head, 'head_hidden')), Array.from(kernelOf(head, 'head_probabilities')));
    });
  });
});
