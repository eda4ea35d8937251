/**
 * Multinomial logistic regression on standardized features: mean cross-entropy + (strength / 2) |W|^2
 * (bias unpenalized), minimized to convergence by L-BFGS. Plain TypeScript on Float64Arrays:
 * deterministic, independent of the tfjs backend.
 *
 * When there are more features than samples, the fit runs in an orthonormal basis of the samples'
 * span (W = Q B, so |W| = |B| and the problem is the same) found by a Cholesky factorization of
 * their Gram matrix: each step then costs O(n^2 K) instead of O(n d K).
 */
import { gramOfRows } from '../policy/logme';
import { minimizeLbfgs } from './lbfgs';

/** Row-major samples x features. */
export interface FeatureMatrix {
  data: Float64Array;
  rows: number;
  cols: number;
}

export interface Standardization {
  mean: Float64Array;
  /** 1 for features constant on the samples. */
  std: Float64Array;
}

/** Weights on standardized features: cols x classes, row-major, and one bias per class. */
export interface LogisticModel {
  strength: number;
  weights: Float64Array;
  bias: Float64Array;
  numClasses: number;
  converged: boolean;
  iterations: number;
}

export interface LogisticFitOptions {
  gradientTolerance?: number;
  maxIterations?: number;
}

export function rowsOf(matrix: FeatureMatrix, rows: number[]): FeatureMatrix {
  const { cols } = matrix;
  const data = new Float64Array(rows.length * cols);
  rows.forEach((row, r) => data.set(matrix.data.subarray(row * cols, (row + 1) * cols), r * cols));
  return { data, rows: rows.length, cols };
}

export function standardizationOf(matrix: FeatureMatrix): Standardization {
  const { data, rows, cols } = matrix;
  const mean = new Float64Array(cols);
  const std = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mean[j] += data[i * cols + j];
  for (let j = 0; j < cols; j++) mean[j] /= rows;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const c = data[i * cols + j] - mean[j];
      std[j] += c * c;
    }
  }
  for (let j = 0; j < cols; j++) {
    const s = Math.sqrt(std[j] / rows);
    std[j] = s > 1e-6 ? s : 1;
  }
  return { mean, std };
}

export function standardized(matrix: FeatureMatrix, stats: Standardization): FeatureMatrix {
  const { data, rows, cols } = matrix;
  const out = new Float64Array(data.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = (data[i * cols + j] - stats.mean[j]) / stats.std[j];
  return { data: out, rows, cols };
}

/** Logits + bias, then softmax: probabilities, samples x classes row-major. */
export function logisticProbabilities(model: LogisticModel, x: FeatureMatrix): Float64Array {
  const K = model.numClasses;
  const out = new Float64Array(x.rows * K);
  multiplyInto(x.data, x.rows, x.cols, model.weights, K, out);
  for (let i = 0; i < x.rows; i++) softmaxRow(out, i * K, K, model.bias);
  return out;
}

/**
 * The model at every strength, strongest first, each starting from the previous solution.
 * `x` must be standardized. Returned in the order of `strengths`.
 */
export function fitLogisticPath(x: FeatureMatrix, labels: ArrayLike<number>, numClasses: number, strengths: number[], options: LogisticFitOptions = {}): LogisticModel[] {
  const basis = spanBasis(x);
  const K = numClasses;
  const n = x.rows;
  const r = basis.z.cols;
  const z = basis.z.data;
  const targets = new Int32Array(n);
  for (let i = 0; i < n; i++) targets[i] = labels[i];
  const logits = new Float64Array(n * K);
  const order = strengths.map((s, i) => ({ s, i })).sort((a, b) => b.s - a.s);
  const models = new Array<LogisticModel>(strengths.length);
  let theta: Float64Array = new Float64Array(r * K + K);
  for (const { s: strength, i } of order) {
    const objective = (t: Float64Array, gradient: Float64Array) => {
      multiplyInto(z, n, r, t, K, logits);
      gradient.fill(0);
      let loss = 0;
      for (let row = 0; row < n; row++) {
        const o = row * K;
        loss -= softmaxRow(logits, o, K, t, r * K, targets[row]);
        logits[o + targets[row]] -= 1; // now the residual: probabilities - one-hot
        for (let k = 0; k < K; k++) gradient[r * K + k] += logits[o + k] / n;
        for (let c = 0; c < r; c++) {
          const v = z[row * r + c] / n;
          if (v === 0) continue;
          const g = c * K;
          for (let k = 0; k < K; k++) gradient[g + k] += v * logits[o + k];
        }
      }
      let penalty = 0;
      for (let j = 0; j < r * K; j++) {
        penalty += t[j] * t[j];
        gradient[j] += strength * t[j];
      }
      return loss / n + (strength / 2) * penalty;
    };
    const result = minimizeLbfgs(objective, theta, options);
    theta = result.x;
    models[i] = {
      strength,
      weights: basis.toFeatureWeights(theta.subarray(0, r * K), K),
      bias: Float64Array.from(theta.subarray(r * K)),
      numClasses: K,
      converged: result.converged,
      iterations: result.iterations,
    };
  }
  return models;
}

/**
 * Coordinates of the samples in a basis of the space the weights live in, and the map back to
 * feature weights. With at least as many samples as features that is the identity; otherwise an
 * orthonormal basis Q of the samples' span: z = x Q is the lower-triangular Cholesky factor of the
 * Gram matrix x x^T (samples in the span of earlier ones are dropped), and W = Q B = x_kept^T L_kept^-T B.
 */
function spanBasis(x: FeatureMatrix): { z: FeatureMatrix; toFeatureWeights: (b: Float64Array, K: number) => Float64Array } {
  const { rows: n, cols: d } = x;
  if (d <= n) return { z: x, toFeatureWeights: (b) => Float64Array.from(b) };
  const gram = gramOfRows(x.data, n, d);
  const l = new Float64Array(n * n); // l[i * n + j], only kept columns j are filled
  const kept: number[] = [];
  for (let j = 0; j < n; j++) {
    let pivot = gram[j * n + j];
    for (const k of kept) pivot -= l[j * n + k] * l[j * n + k];
    if (!(pivot > 1e-9 * Math.max(gram[j * n + j], 1e-300))) continue; // in the span of the kept samples
    const diagonal = Math.sqrt(pivot);
    l[j * n + j] = diagonal;
    for (let i = j + 1; i < n; i++) {
      let s = gram[i * n + j];
      for (const k of kept) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / diagonal;
    }
    kept.push(j);
  }
  const r = kept.length;
  const z = new Float64Array(n * r);
  for (let i = 0; i < n; i++) kept.forEach((j, c) => (z[i * r + c] = l[i * n + j]));
  const toFeatureWeights = (b: Float64Array, K: number) => {
    // A = L_kept^-T B by back substitution (L_kept: the kept rows and columns, lower triangular).
    const a = new Float64Array(r * K);
    for (let c = r - 1; c >= 0; c--) {
      const row = kept[c];
      for (let k = 0; k < K; k++) {
        let s = b[c * K + k];
        for (let e = c + 1; e < r; e++) s -= l[kept[e] * n + row] * a[e * K + k];
        a[c * K + k] = s / l[row * n + row];
      }
    }
    const w = new Float64Array(d * K);
    kept.forEach((row, c) => {
      for (let j = 0; j < d; j++) {
        const v = x.data[row * d + j];
        for (let k = 0; k < K; k++) w[j * K + k] += v * a[c * K + k];
      }
    });
    return w;
  };
  return { z: { data: z, rows: n, cols: r }, toFeatureWeights };
}

/** out (rows x K) = m (rows x inner) times t (inner x K), both row-major. */
function multiplyInto(m: Float64Array, rows: number, inner: number, t: ArrayLike<number>, K: number, out: Float64Array): void {
  out.fill(0);
  for (let i = 0; i < rows; i++) {
    const o = i * K;
    for (let c = 0; c < inner; c++) {
      const v = m[i * inner + c];
      if (v === 0) continue;
      const g = c * K;
      for (let k = 0; k < K; k++) out[o + k] += v * t[g + k];
    }
  }
}

/**
 * Adds the bias (bias[biasOffset + k]) to row values[o..o+K), replaces them by their softmax, and
 * returns the log-probability of `target` (0 when none is given).
 */
function softmaxRow(values: Float64Array, o: number, K: number, bias: ArrayLike<number>, biasOffset = 0, target = -1): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < K; k++) {
    values[o + k] += bias[biasOffset + k];
    if (values[o + k] > max) max = values[o + k];
  }
  let sum = 0;
  for (let k = 0; k < K; k++) {
    const shifted = values[o + k] - max;
    // exp(-40) is negligible next to the largest term (1); flushing it keeps slow denormals out.
    const e = shifted < -40 ? 0 : Math.exp(shifted);
    values[o + k] = e;
    sum += e;
  }
  const logTarget = target >= 0 ? Math.log(Math.max(values[o + target] / sum, 1e-300)) : 0;
  for (let k = 0; k < K; k++) values[o + k] /= sum;
  return logTarget;
}
