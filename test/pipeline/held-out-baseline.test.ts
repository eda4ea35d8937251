import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { chooseBackend } from '../../src/backend/choose-backend';
import { trainClassifier } from '../../src/pipeline/train-classifier';
import { defaultStrengths, refitLogistic } from '../../src/select/cross-validated-logistic';
import { logisticProbabilities, standardized, type FeatureMatrix } from '../../src/select/logistic-regression';
import type { Plan } from '../../src/policy/plan';
import { silentLogger } from '../../src/logger';
import { seededRandom } from '../../src/train/seeded-random';
import { clusters, gaussian } from '../helpers/clusters';
import { testConfig } from '../helpers/pipeline';

const frozen = { cutLayer: 'features', pooling: 'average' } as Plan;

/** `clusters` of three classes split into a training part of `n` and a validation part of `m`: tensors with their labels. */
function clustered(n: number, m: number, seed: number) {
  const { features, labels } = clusters(n + m, 40, 3, 0.5, 1, seed);
  const part = (from: number, to: number) => ({ x: tf.tensor2d(features.slice(from, to).map((row) => Array.from(row))), labels: labels.slice(from, to) });
  return [part(0, n), part(n, n + m)];
}

/** Two features whose signs' product is the class (XOR), plus noise features: no linear model separates them. */
function xor(n: number, seed: number) {
  const random = seededRandom(seed);
  const rows: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const [a, b] = [random() * 2 - 1, random() * 2 - 1];
    rows.push([a, b, ...Array.from({ length: 6 }, () => gaussian(random))]);
    labels.push(a * b > 0 ? 1 : 0);
  }
  return { x: tf.tensor2d(rows), labels };
}

describe('large data: the trained head against the logistic regression baseline on the validation split', () => {
  before(() => chooseBackend('wasm'));

  it('makes the baseline the head when the trained head does not beat it, and says so', async () => {
    const [train, val] = clustered(240, 120, 1);
    // A head barely trained (one epoch at a tiny rate) against the exact L2 path on the same features.
    const trained = await trainClassifier({ plan: frozen, train, val, numClasses: 3, config: testConfig({ epochs: '1', 'learning-rate': '0.00001' }), logger: silentLogger });
    const comparison = trained.baseline!;
    assert.equal(comparison.winner, 'baseline', comparison.reason);
    assert.equal(comparison.n, 120);
    assert.equal(comparison.path.length, 10);
    assert.ok(comparison.baselineAccuracy > comparison.headAccuracy + comparison.standardError, comparison.reason);
    assert.match(comparison.reason, /does not beat it by more than one standard error.*the baseline \(simpler\) is the head-only model/);
    assert.equal(trained.score(val).accuracy, comparison.baselineAccuracy, 'the classifier returned is the baseline');
    assert.equal(trained.head.layers.filter((layer) => layer.getClassName() === 'Dropout').every((layer) => (layer.getConfig() as { rate: number }).rate === 0), true);
    tf.dispose([train.x, val.x]);
  });

  it('offers the baseline refitted on training and validation images once it is the head-only model', async () => {
    const [train, val] = clustered(240, 120, 1);
    const trained = await trainClassifier({ plan: frozen, train, val, numClasses: 3, config: testConfig({ epochs: '1', 'learning-rate': '0.00001' }), logger: silentLogger });
    const strength = trained.baseline!.strength;
    const { trained: refitted, refit } = trained.refitBaselineOnAll!();
    assert.deepEqual([refit.images, refit.trainingImages, refit.strength], [360, 240, strength]);
    assert.match(refit.reason, /refitted on all 360 labelled images .* fitted on the 240 training images/);
    // The same regression, fitted here on the training rows then the validation rows, at the strength chosen on validation.
    const all: FeatureMatrix = { data: Float64Array.from([...train.x.dataSync(), ...val.x.dataSync()]), rows: 360, cols: 40 };
    const expected = refitLogistic(all, [...train.labels, ...val.labels], 3, defaultStrengths, strength);
    const wanted = logisticProbabilities(expected.model, standardized({ ...all, data: all.data.slice(240 * 40), rows: 120 }, expected.standardization));
    const got = await refitted.probabilities(val.x);
    assert.ok(got.every((p, i) => Math.abs(p - wanted[i]) < 1e-4), 'the exported head is that regression on raw features');
    const before = await trained.probabilities(val.x);
    assert.ok(before.some((p, i) => Math.abs(p - got[i]) > 1e-3), 'and not the fit on the training images alone');
    assert.equal(refitted.refitBaselineOnAll, undefined, 'refitted once');
    refitted.head.dispose();
    tf.dispose([train.x, val.x]);
  });

  it('keeps a head that beats it by more than one standard error', async () => {
    const [train, val] = [xor(400, 3), xor(200, 4)];
    const config = testConfig({ epochs: '60', patience: '20', 'hidden-units': '32', dropout: '0', 'learning-rate': '0.01' });
    const trained = await trainClassifier({ plan: frozen, train, val, numClasses: 2, config, logger: silentLogger });
    const comparison = trained.baseline!;
    assert.equal(comparison.winner, 'head', comparison.reason);
    assert.ok(comparison.baselineAccuracy < 0.7 && comparison.headAccuracy > 0.85, comparison.reason);
    assert.equal(trained.score(val).accuracy, comparison.headAccuracy, 'the trained head is the classifier');
    assert.equal(trained.refitBaselineOnAll, undefined, 'only the baseline is refitted');
    tf.dispose([train.x, val.x]);
  });

  it('is not fitted with train.baseline false, or without validation images', async () => {
    const [train, val] = clustered(90, 30, 5);
    const config = testConfig({ epochs: '1', baseline: 'false' });
    const off = await trainClassifier({ plan: frozen, train, val, numClasses: 3, config, logger: silentLogger });
    assert.equal(off.baseline, undefined);
    assert.equal(off.refitBaselineOnAll, undefined);
    const noVal = await trainClassifier({ plan: frozen, train, numClasses: 3, config: testConfig({ epochs: '1' }), logger: silentLogger });
    assert.equal(noVal.baseline, undefined);
    tf.dispose([train.x, val.x]);
  });
});
