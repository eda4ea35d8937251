import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/train/seeded-random';
import { clusters, gaussian } from '../helpers/clusters';
import { linearProbe, linearProbeAccuracy } from '../../src/policy/linear-probe';




describe('linearProbeAccuracy', () => {
  it('reaches about 1 on linearly separable classes (n > d and n < d)', () => {
    for (const [n, d] of [
      [150, 10],
      [90, 300],
    ]) {
      const { features, labels } = clusters(n, d, 3, 3, 1, 1);
      const accuracy = linearProbeAccuracy(features, labels, 3, { seed: 1 });
      assert.ok(accuracy >= 0.98, `n=${n} d=${d}: ${accuracy}`);
    }
  });

  it('stays near chance on random labels', () => {
    const random = seededRandom(4);
    for (const [n, d, K] of [
      [300, 20, 3],
      [300, 500, 3],
      [400, 50, 5],
    ]) {
      const { features } = clusters(n, d, 1, 0, 1, 2);
      const labels = features.map(() => Math.floor(random() * K));
      const accuracy = linearProbeAccuracy(features, labels, K, { seed: 3 });
      assert.ok(Math.abs(accuracy - 1 / K) < 0.12, `n=${n} d=${d} K=${K}: ${accuracy}`);
    }
  });

  it('ranks informative features above weaker ones', () => {
    const strong = clusters(240, 40, 4, 0.6, 1, 7);
    const weak = clusters(240, 40, 4, 0.15, 1, 7);
    const a = linearProbeAccuracy(strong.features, strong.labels, 4, { seed: 0 });
    const b = linearProbeAccuracy(weak.features, weak.labels, 4, { seed: 0 });
    assert.ok(a > b + 0.1, `${a} vs ${b}`);
  });

  it('is deterministic for a seed, and the seed moves the folds', () => {
    const { features, labels } = clusters(120, 30, 3, 0.3, 1, 5);
    const first = linearProbe(features, labels, 3, { seed: 42 });
    const again = linearProbe(features, labels, 3, { seed: 42 });
    assert.deepEqual(again, first);
    const other = linearProbe(features, labels, 3, { seed: 43 });
    assert.notDeepEqual(other.foldOf, first.foldOf);
  });

  it('computes the same iterates in the primal and the dual', () => {
    for (const [n, d] of [
      [60, 20],
      [60, 100],
    ]) {
      const { features, labels } = clusters(n, d, 3, 0.25, 1, 8);
      const primal = linearProbe(features, labels, 3, { seed: 1, solver: 'primal', iterations: 50 });
      const dual = linearProbe(features, labels, 3, { seed: 1, solver: 'dual', iterations: 50 });
      assert.deepEqual(dual.foldAccuracies, primal.foldAccuracies);
    }
  });

  it('handles constant features, more folds and tiny data', () => {
    const { features, labels } = clusters(30, 5, 2, 3, 1, 6);
    const withConstants = features.map((row) => [...row, 1, 0, 7]);
    assert.ok(linearProbeAccuracy(withConstants, labels, 2, { folds: 5, seed: 2 }) >= 0.9);
    const allConstant = features.map(() => [3, 3]);
    const accuracy = linearProbeAccuracy(allConstant, labels, 2, { seed: 2 });
    assert.ok(accuracy >= 0 && accuracy <= 1);
    assert.ok(Number.isFinite(linearProbeAccuracy([[0], [1], [2], [3]], [0, 0, 1, 1], 2, { folds: 2 })));
  });

  it('rejects malformed input', () => {
    assert.throws(() => linearProbeAccuracy([[1], [2]], [0, 1], 2, { folds: 3 }), RangeError);
    assert.throws(() => linearProbeAccuracy([[1], [2], [3]], [0, 1, 1], 2, { folds: 1 }), RangeError);
    assert.throws(() => linearProbeAccuracy([[1], [2], [3]], [0, 1, 2], 2), RangeError);
    assert.throws(() => linearProbeAccuracy([[1], [2], [3]], [0, 1, 1], 2, { l2: -1 }), RangeError);
  });

  it('runs 3 folds on 500 x 1280 features within about 3 s of CPU', () => {
    const random = seededRandom(11);
    const features = Array.from({ length: 500 }, () => Float32Array.from({ length: 1280 }, () => Math.max(0, gaussian(random))));
    const labels = features.map((_, i) => i % 10);
    const start = process.cpuUsage();
    const accuracy = linearProbeAccuracy(features, labels, 10, { seed: 0 });
    const used = process.cpuUsage(start);
    const ms = (used.user + used.system) / 1000;
    assert.ok(accuracy >= 0 && accuracy <= 1);
    assert.ok(ms < 3500, `took ${ms} ms`);
  });
});
