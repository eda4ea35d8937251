import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { minimizeLbfgs } from '../../src/select/lbfgs';
import { fitLogisticPath, logisticProbabilities, standardizationOf, standardized, type FeatureMatrix } from '../../src/select/logistic-regression';
import { seededRandom } from '../../src/train/seeded-random';
import { clusters, matrixOf } from '../helpers/clusters';

/** Largest entry of the gradient of mean cross-entropy + (strength/2)|W|^2 in the feature weights. */
function largestGradient(x: FeatureMatrix, labels: number[], K: number, model: ReturnType<typeof fitLogisticPath>[number]): number {
  const p = logisticProbabilities(model, x);
  for (let i = 0; i < x.rows; i++) p[i * K + labels[i]] -= 1;
  let largest = 0;
  for (let j = 0; j < x.cols; j++) {
    for (let k = 0; k < K; k++) {
      let g = model.strength * model.weights[j * K + k];
      for (let i = 0; i < x.rows; i++) g += (x.data[i * x.cols + j] * p[i * K + k]) / x.rows;
      largest = Math.max(largest, Math.abs(g));
    }
  }
  for (let k = 0; k < K; k++) {
    let g = 0;
    for (let i = 0; i < x.rows; i++) g += p[i * K + k] / x.rows;
    largest = Math.max(largest, Math.abs(g));
  }
  return largest;
}

describe('minimizeLbfgs', () => {
  it('finds the minimum of an ill-conditioned quadratic', () => {
    const scales = [1, 10, 100, 1000];
    const result = minimizeLbfgs((x, g) => {
      let value = 0;
      scales.forEach((s, i) => {
        value += 0.5 * s * (x[i] - i) ** 2;
        g[i] = s * (x[i] - i);
      });
      return value;
    }, new Float64Array(4), { gradientTolerance: 1e-8 });
    assert.ok(result.converged);
    result.x.forEach((v, i) => assert.ok(Math.abs(v - i) < 1e-6, `${i}: ${v}`));
  });

  it('keeps the last `memory` correction pairs, oldest first: the same iterates as the textbook two-loop recursion', () => {
    // A smooth non-quadratic objective that takes many more iterations than the memory holds.
    const objective = (x: Float64Array, g: Float64Array) => {
      let value = 0;
      for (let i = 0; i < x.length; i++) {
        const s = 1 + (i % 7) * 3;
        value += 0.5 * s * (x[i] - 1) ** 2 + Math.log(1 + Math.exp(x[i] - x[(i + 1) % x.length]));
        g[i] = s * (x[i] - 1);
      }
      for (let i = 0; i < x.length; i++) {
        const j = (i + 1) % x.length;
        const sigmoid = 1 / (1 + Math.exp(-(x[i] - x[j])));
        g[i] += sigmoid;
        g[j] -= sigmoid;
      }
      return value;
    };
    const options = { memory: 3, gradientTolerance: 1e-10, maxIterations: 12 };
    const result = minimizeLbfgs(objective, new Float64Array(30), options);
    const reference = textbookLbfgs(objective, new Float64Array(30), options);
    assert.equal(result.iterations, 12);
    assert.deepEqual(Array.from(result.x), Array.from(reference));
  });
});

/** L-BFGS as textbooks write it (arrays shifted when full), with minimizeLbfgs' line search: the reference iterates. */
function textbookLbfgs(objective: (x: Float64Array, g: Float64Array) => number, start: Float64Array, options: { memory: number; maxIterations: number }): Float64Array {
  const dot = (a: Float64Array, b: Float64Array) => a.reduce((sum, v, i) => sum + v * b[i], 0);
  let x = Float64Array.from(start);
  let g = new Float64Array(x.length);
  let value = objective(x, g);
  const pairs: { s: Float64Array; y: Float64Array; rho: number }[] = [];
  for (let iteration = 0; iteration < options.maxIterations; iteration++) {
    const q = Float64Array.from(g);
    const alphas: number[] = [];
    for (let m = pairs.length - 1; m >= 0; m--) {
      alphas[m] = pairs[m].rho * dot(pairs[m].s, q);
      for (let i = 0; i < q.length; i++) q[i] -= alphas[m] * pairs[m].y[i];
    }
    const newest = pairs[pairs.length - 1];
    const scale = newest ? dot(newest.s, newest.y) / dot(newest.y, newest.y) : 1 / Math.max(Math.sqrt(dot(g, g)), 1e-12);
    for (let i = 0; i < q.length; i++) q[i] *= scale;
    for (let m = 0; m < pairs.length; m++) {
      const beta = pairs[m].rho * dot(pairs[m].y, q);
      for (let i = 0; i < q.length; i++) q[i] += pairs[m].s[i] * (alphas[m] - beta);
    }
    const direction = q.map((v) => -v);
    const slope = dot(g, direction);
    let step = 1;
    let next = new Float64Array(x.length);
    let nextG = new Float64Array(x.length);
    let nextValue = Infinity;
    for (let tries = 0; tries < 40; tries++) {
      next = x.map((v, i) => v + step * direction[i]);
      nextG = new Float64Array(x.length);
      nextValue = objective(next, nextG);
      if (nextValue <= value + 1e-4 * step * slope) break;
      step /= 2;
    }
    const s = next.map((v, i) => v - x[i]);
    const y = nextG.map((v, i) => v - g[i]);
    const curvature = dot(s, y);
    if (curvature > 1e-12) {
      if (pairs.length === options.memory) pairs.shift();
      pairs.push({ s, y, rho: 1 / curvature });
    }
    [x, g, value] = [next, nextG, nextValue];
  }
  return x;
}

describe('fitLogisticPath', () => {
  it('converges to the optimum in feature space with more samples than features and with fewer', () => {
    for (const [n, d] of [
      [90, 12],
      [40, 150],
    ]) {
      const { features, labels } = clusters(n, d, 3, 0.4, 1, 3);
      const x = standardized(matrixOf(features), standardizationOf(matrixOf(features)));
      const models = fitLogisticPath(x, labels, 3, [1, 0.1, 0.01], { gradientTolerance: 1e-7, maxIterations: 2000 });
      for (const model of models) {
        assert.ok(model.converged, `n=${n} d=${d} strength ${model.strength}`);
        assert.ok(largestGradient(x, labels, 3, model) < 1e-5, `n=${n} d=${d} strength ${model.strength}: ${largestGradient(x, labels, 3, model)}`);
      }
      assert.deepEqual(models.map((m) => m.strength), [1, 0.1, 0.01]);
    }
  });

  it('searches the unpenalized biases at the curvature of the weights: a cold start with imbalanced classes converges in a few iterations', () => {
    // Classes 60 / 25 / 15 of 100 samples, 300 features: the biases carry the priors. Searched at
    // their own (much lower) curvature, each strength took 16-18 iterations; rescaled, 8-10.
    const random = seededRandom(5);
    const labels = Array.from({ length: 100 }, (_, i) => (i < 60 ? 0 : i < 85 ? 1 : 2));
    const raw: FeatureMatrix = { data: new Float64Array(100 * 300), rows: 100, cols: 300 };
    labels.forEach((label, i) => {
      for (let j = 0; j < 300; j++) raw.data[i * 300 + j] = random() - 0.5 + (j % 10 === label ? 0.3 : 0);
    });
    const x = standardized(raw, standardizationOf(raw));
    for (const strength of [3, 1, 0.3, 0.1]) {
      const [model] = fitLogisticPath(x, labels, 3, [strength]);
      assert.ok(model.converged && model.iterations <= 12, `strength ${strength}: ${model.iterations} iterations`);
      assert.ok(largestGradient(x, labels, 3, model) < 1e-4, `strength ${strength}: gradient ${largestGradient(x, labels, 3, model)}`);
    }
  });

  it('handles repeated samples (a rank-deficient Gram matrix)', () => {
    const { features, labels } = clusters(20, 60, 2, 1, 1, 5);
    const x = standardized(matrixOf([...features, ...features]), standardizationOf(matrixOf([...features, ...features])));
    const [model] = fitLogisticPath(x, [...labels, ...labels], 2, [0.1], { gradientTolerance: 1e-7, maxIterations: 2000 });
    assert.ok(largestGradient(x, [...labels, ...labels], 2, model) < 1e-5);
  });
});
