import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { crossValidateHead, trainFinalHead } from '../../src/select/cross-validate-head';
import { crossValidateLogistic, type FoldCoordinates } from '../../src/select/cross-validated-logistic';
import { logisticProbabilities, standardized } from '../../src/select/logistic-regression';
import { logisticHead } from '../../src/select/logistic-head';
import { selectHead } from '../../src/select/select-head';
import { foldParts, stratifiedFolds } from '../../src/select/stratified-folds';
import { ExponentialDecay } from '../../src/train/learning-rate-schedule';
import { seededRandom } from '../../src/train/seeded-random';
import { clusters, matrixOf } from '../helpers/clusters';

const settings = { initializer: 'glorotNormal' as const, initStddev: 0, seed: 3 };
const fitOptions = (batchSize = 8) => ({ epochs: 1, batchSize, schedule: new ExponentialDecay(0.02, 0.9), patience: 100, seed: 3 });

before(async () => {
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
});

describe('crossValidateLogistic', () => {
  it('scores every image once, by a model that did not see it', () => {
    // Each image has a feature of its own and a random label: a model that saw an image recalls its
    // label, one that did not can only guess. Out-of-fold accuracy must stay near chance.
    const n = 60;
    const random = seededRandom(8);
    const labels = Array.from({ length: n }, () => Math.floor(random() * 2));
    const data = new Float64Array(n * n);
    for (let i = 0; i < n; i++) data[i * n + i] = 1;
    const foldOf = stratifiedFolds(labels, 2, 5, 1);
    const cv = crossValidateLogistic({ data, rows: n, cols: n }, labels, 2, foldOf, [1e-3]);
    assert.equal(cv.estimate.probabilities.length, n * 2);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(cv.estimate.probabilities[2 * i] + cv.estimate.probabilities[2 * i + 1] - 1) < 1e-9, `image ${i} not scored`);
    assert.ok(cv.estimate.accuracy < 0.75, `out-of-fold accuracy ${cv.estimate.accuracy} on memorizable labels`);
    assert.equal(cv.estimate.n, n);
    assert.equal(cv.estimate.foldAccuracies.length, 5);
  });

  it('picks a strength along the path and refits on all images', () => {
    const { features, labels } = clusters(80, 40, 4, 0.5, 1, 2);
    const foldOf = stratifiedFolds(labels, 4, 5, 0);
    const cv = crossValidateLogistic(matrixOf(features), labels, 4, foldOf, [10, 0.1, 0.001]);
    assert.equal(cv.path.length, 3);
    assert.ok(cv.estimate.accuracy >= Math.max(...cv.path.map((p) => p.accuracy)));
    assert.ok(cv.estimate.accuracy > 0.9, String(cv.estimate.accuracy));
    assert.equal(cv.model.numClasses, 4);
  });
});

describe('logisticHead', () => {
  it('is a dense softmax head on raw features that predicts what the regression does', () => {
    const { features, labels } = clusters(50, 30, 3, 0.5, 1, 4);
    const matrix = matrixOf(features.map((row) => row.map((v) => 5 + 3 * v)));
    const cv = crossValidateLogistic(matrix, labels, 3, stratifiedFolds(labels, 3, 5, 0), [0.1]);
    const head = logisticHead(cv.model, cv.standardization);
    const expected = logisticProbabilities(cv.model, standardized(matrix, cv.standardization));
    const actual = tf.tidy(() => (head.predict(tf.tensor2d(Float32Array.from(matrix.data), [matrix.rows, matrix.cols])) as tf.Tensor).dataSync());
    assert.deepEqual(head.layers.map((l) => l.getClassName()), ['Dropout', 'Dense']);
    for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(expected[i] - actual[i]) < 1e-4, `${i}: ${expected[i]} vs ${actual[i]}`);
    head.dispose();
  });
});

describe('trainFinalHead', () => {
  it('trains on every image given, for the chosen epochs', async () => {
    const { features, labels } = clusters(37, 8, 2, 1, 1, 5);
    const x = tf.tensor2d(Float32Array.from(features.flatMap((f) => [...f])), [37, 8]);
    const batches: number[] = [];
    const { head, history } = await trainFinalHead({
      x,
      labels,
      numClasses: 2,
      chosen: { candidate: { name: 'linear', dropout: 0.2, hiddenUnits: 0, l2: 0 }, epochs: 3, estimate: undefined as never, curve: [] },
      settings,
      fitOptions: { ...fitOptions(8), onBatch: (_epoch, batch, perEpoch) => batch === perEpoch && batches.push(perEpoch) },
    });
    assert.equal(history.history.length, 3);
    assert.deepEqual(batches, [5, 5, 5]); // ceil(37 / 8): all 37 images every epoch
    head.dispose();
    x.dispose();
  });
});

describe('crossValidateHead', () => {
  it("reads the fold coordinates it is given (the baseline's) instead of computing its own", async () => {
    const { features, labels } = clusters(60, 20, 3, 1.5, 1, 9);
    const matrix = matrixOf(features);
    const foldOf = stratifiedFolds(labels, 3, 3, 1);
    const run = (foldCoordinates?: FoldCoordinates[]) =>
      crossValidateHead({
        features: matrix,
        foldCoordinates,
        labels,
        numClasses: 3,
        foldOf,
        candidates: [{ name: 'hidden 8', dropout: 0, hiddenUnits: 8, l2: 0 }],
        settings,
        fitOptions: { ...fitOptions(8), schedule: new ExponentialDecay(0.02, 1) },
        maxEpochs: 5,
        patience: 5,
      });
    const own = await run();
    // Coordinates that say nothing about the images: the heads can only guess.
    const blank = [0, 1, 2].map((fold) => {
      const { train, heldOut } = foldParts(foldOf, fold);
      return { fold, train: new Float32Array(train.length * 4), heldOut: new Float32Array(heldOut.length * 4), cols: 4 };
    });
    const given = await run(blank);
    assert.ok(own.best.estimate.accuracy > 0.9, String(own.best.estimate.accuracy));
    assert.ok(given.best.estimate.accuracy < 0.5, String(given.best.estimate.accuracy));
  });
});

describe('selectHead', () => {
  it('exports the baseline when it cross-validates better than every head', async () => {
    const { features, labels } = clusters(60, 20, 3, 0.6, 1, 6);
    const x = tf.tensor2d(Float32Array.from(features.flatMap((f) => [...f])), [60, 20]);
    // A head that barely learns (one epoch at a tiny rate) cannot beat the regression.
    const selection = await selectHead({
      x,
      labels,
      numClasses: 3,
      folds: 5,
      seed: 1,
      candidates: [{ name: 'linear', dropout: 0.2, hiddenUnits: 0, l2: 0 }],
      settings,
      fitOptions: { ...fitOptions(8), schedule: new ExponentialDecay(1e-6, 1) },
      maxEpochs: 1,
      patience: 1,
      strengths: [1, 0.01],
    });
    assert.equal(selection.winner, 'baseline');
    assert.ok(selection.margin < -0.2, String(selection.margin));
    assert.match(selection.reason, /logistic regression/);
    const exported = tf.tidy(() => (selection.head.predict(x) as tf.Tensor).dataSync());
    const baseline = logisticHead(selection.baseline.model, selection.baseline.standardization);
    const expected = tf.tidy(() => (baseline.predict(x) as tf.Tensor).dataSync());
    assert.deepEqual(Array.from(exported), Array.from(expected));
    assert.deepEqual(selection.candidates.map((c) => c.kind), ['head', 'baseline']);
    tf.dispose([x]);
    selection.head.dispose();
    baseline.dispose();
  });

  it('exports the head, trained on all images, when it cross-validates better', async () => {
    // XOR: no linear model separates the classes; a hidden layer does.
    const random = seededRandom(7);
    const values: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 80; i++) {
      const [a, b] = [i % 2 ? 1 : -1, i % 4 < 2 ? 1 : -1];
      values.push(a + 0.3 * (random() - 0.5), b + 0.3 * (random() - 0.5));
      labels.push(a * b > 0 ? 1 : 0);
    }
    const x = tf.tensor2d(values, [80, 2]);
    const batches: number[] = [];
    const selection = await selectHead({
      x,
      labels,
      numClasses: 2,
      folds: 4,
      seed: 1,
      candidates: [{ name: 'hidden 16', dropout: 0, hiddenUnits: 16, l2: 0 }],
      settings,
      fitOptions: { ...fitOptions(16), schedule: new ExponentialDecay(0.05, 1), onBatch: (_e, batch, perEpoch) => batch === perEpoch && batches.push(perEpoch) },
      maxEpochs: 30,
      patience: 5,
    });
    assert.equal(selection.winner, 'head', JSON.stringify(selection.candidates));
    assert.ok(selection.estimate.accuracy > 0.9);
    assert.equal(selection.estimate.n, 80);
    // Folds train on 60 images (4 batches of 16); the final head on all 80 (5 batches).
    assert.equal(batches.at(-1), 5);
    const finalEpochs = selection.final!.history.length;
    assert.ok(batches.slice(0, -finalEpochs).every((count) => count === 4));
    tf.dispose([x]);
    selection.head.dispose();
  });
});
