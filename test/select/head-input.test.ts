import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { headInput } from '../../src/select/head-input';
import { fitFoldPath } from '../../src/select/cross-validated-logistic';
import { rowsOf, type FeatureMatrix } from '../../src/select/logistic-regression';
import { foldParts, stratifiedFolds } from '../../src/select/stratified-folds';
import { buildHead } from '../../src/train/head';
import { seededRandom } from '../../src/train/seeded-random';

before(async () => {
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
});

function randomFeatures(rows: number, cols: number, seed: number): FeatureMatrix {
  const random = seededRandom(seed);
  // Raw pooled features: positive, each column at its own scale and offset.
  return { data: Float64Array.from({ length: rows * cols }, (_, i) => (1 + (i % cols)) * (2 + random())), rows, cols };
}

const tensorOf = ({ data, rows, cols }: FeatureMatrix) => tf.tensor2d(Float32Array.from(data), [rows, cols]);

describe('headInput', () => {
  it('gives the heads one coordinate per image at most when images are fewer than features', () => {
    const input = headInput(randomFeatures(12, 40, 1));
    // Standardized (centred) rows span n - 1 dimensions.
    assert.deepEqual(input.coordinates.shape, [12, 11]);
    input.dispose();
  });

  it("standardizes with its training images only, as the baseline's folds do", () => {
    const features = randomFeatures(12, 40, 3);
    const train = [0, 1, 2, 3, 4, 5, 6, 7];
    // An unusual held-out image: were it in the statistics, the training images' coordinates would move.
    features.data.fill(1000, 11 * 40, 12 * 40);
    const fold = headInput(features, train);
    const alone = headInput(rowsOf(features, train));
    assert.deepEqual(fold.coordinates.arraySync(), alone.coordinates.arraySync());
    assert.deepEqual(fold.project([11]).shape, [1, 7]);
    fold.dispose();
    alone.dispose();
  });

  it('folds the basis and the standardization back: the head on raw features predicts what it did on coordinates', () => {
    const features = randomFeatures(12, 40, 2);
    const x = tensorOf(features);
    const input = headInput(features);
    const settings = { numClasses: 3, dropout: 0.5, inputDropout: 0, hiddenUnits: 8 };
    const trained = buildHead({ numFeatures: input.coordinates.shape[1], ...settings, seed: 4 });
    // A bias on the hidden layer, so that the fold must keep it too.
    const [kernel] = trained.getLayer('head_hidden').getWeights();
    trained.getLayer('head_hidden').setWeights([kernel, tf.fill([8], 0.3)]);
    const reading = input.readingFeatures(trained, settings);
    const expected = tf.tidy(() => (trained.predict(input.coordinates) as tf.Tensor).arraySync() as number[][]);
    const actual = tf.tidy(() => (reading.predict(x) as tf.Tensor).arraySync() as number[][]);
    assert.deepEqual(reading.inputs[0].shape, [null, 40]);
    expected.forEach((row, i) => row.forEach((p, k) => assert.ok(Math.abs(p - actual[i][k]) < 1e-4, `image ${i} class ${k}: ${p} vs ${actual[i][k]}`)));
    // Not a constant head: the images get different predictions.
    assert.ok(Math.abs(expected[0][0] - expected[1][0]) > 1e-3);
    tf.dispose([x]);
    input.dispose();
    trained.dispose();
    reading.dispose();
  });

  it("gives a fold the coordinates the baseline's fold computed, so the heads can read those", () => {
    const features = randomFeatures(20, 30, 5);
    const labels = Array.from({ length: 20 }, (_, i) => i % 2);
    const foldOf = stratifiedFolds(labels, 2, 4, 1);
    const { train, heldOut } = foldParts(foldOf, 2);
    const path = fitFoldPath(features, labels, 2, foldOf, 2, [1]);
    const input = headInput(features, train);
    const heldOutX = input.project(heldOut);
    assert.equal(path.coordinates!.fold, 2);
    assert.deepEqual(Array.from(path.coordinates!.train), Array.from(input.coordinates.dataSync()));
    assert.deepEqual(Array.from(path.coordinates!.heldOut), Array.from(heldOutX.dataSync()));
    input.dispose();
    heldOutX.dispose();
  });
});
