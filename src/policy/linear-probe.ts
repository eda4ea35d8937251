/**
 * k-fold cross-validated accuracy of a linear probe: multinomial logistic regression on
 * standardized frozen features, a transferability estimate that needs no training of the network.
 *
 * - Folds are stratified and seeded: each class's samples are shuffled (mulberry32 from `seed`)
 *   and dealt round-robin over the folds, continuing where the previous class stopped, so fold
 *   sizes differ by at most one and every class is spread evenly.
 * - Each fold standardizes with the mean and standard deviation of its training part only
 *   (features constant on it are dropped).
 * - The model minimizes mean cross-entropy + (l2 / 2) |W|^2 (bias unpenalized) by a fixed number
 *   of full-batch Nesterov-accelerated gradient steps of size 1/L, where L bounds the curvature:
 *   the softmax Hessian is at most 1/2 (Boehning), so L = max(lambda_max(X^T X), n) / (2 n) + l2,
 *   with lambda_max from power iteration (with a safety margin).
 * - When the training part has fewer samples than features the same iterates are computed in
 *   the dual: W = X^T A for n x K coefficients A, since every gradient of W lies in the row
 *   space of X. A step then costs O(n^2 K) instead of O(n d K); the Gram matrices are formed once
 *   per fold.
 * - The reported accuracy pools all folds: correct held-out predictions / samples.
 * Plain TypeScript on Float64Arrays: deterministic for a seed, independent of the tfjs backend.
 */
import { gramOfRows, rowProducts } from '../linear-algebra/row-products';
import { checkLabels, toRowMajor, transpose, type FeatureRows } from './logme';
import { stratifiedFolds as foldsOf } from '../select/stratified-folds';

export interface LinearProbeOptions {
  /** Number of folds, at least 2 and at most the number of samples. Default 3. */
  folds?: number;
  /** Seed of the fold assignment. Default 0. */
  seed?: number;
  /** Weight of (1/2)|W|^2 next to the mean cross-entropy. Default 1e-2. */
  l2?: number;
  /** Gradient steps per fold. Default 200. */
  iterations?: number;
  /**
   * Parameterization of the same iterates: 'auto' (default) takes the dual when a training part
   * has fewer samples than features. The other values exist for tests and benchmarks.
   */
  solver?: 'auto' | 'primal' | 'dual';
}

export interface LinearProbeResult {
  /** Pooled held-out accuracy. */
  accuracy: number;
  /** Held-out accuracy of each fold. */
  foldAccuracies: number[];
  /** Fold of each sample. */
  foldOf: number[];
}

const DEFAULT_FOLDS = 3;
const DEFAULT_L2 = 1e-2;
const DEFAULT_ITERATIONS = 200;
const POWER_ITERATIONS = 50;
const CURVATURE_SAFETY = 1.1;

/** Cross-validated accuracy of a multinomial logistic regression on the features. */
export function linearProbeAccuracy(
  features: FeatureRows,
  labels: ArrayLike<number>,
  numClasses: number,
  options: LinearProbeOptions = {},
): number {
  return linearProbe(features, labels, numClasses, options).accuracy;
}

/** The cross-validation with its per-fold accuracies and fold assignment. */
export function linearProbe(
  features: FeatureRows,
  labels: ArrayLike<number>,
  numClasses: number,
  options: LinearProbeOptions = {},
): LinearProbeResult {
  const folds = options.folds ?? DEFAULT_FOLDS;
  const seed = options.seed ?? 0;
  const l2 = options.l2 ?? DEFAULT_L2;
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  const solver = options.solver ?? 'auto';
  const { data, n, d } = toRowMajor(features, 'linearProbe');
  checkLabels(labels, n, numClasses, 'linearProbe');
  if (!(Number.isInteger(folds) && folds >= 2 && folds <= n)) {
    throw new RangeError(`linearProbe: folds must be an integer in [2, ${n}], got ${folds}`);
  }
  if (!(l2 >= 0 && Number.isFinite(l2))) throw new RangeError(`linearProbe: l2 must be a finite number >= 0, got ${l2}`);
  if (!(Number.isInteger(iterations) && iterations >= 1)) {
    throw new RangeError(`linearProbe: iterations must be a positive integer, got ${iterations}`);
  }
  if (solver !== 'auto' && solver !== 'primal' && solver !== 'dual') throw new RangeError(`linearProbe: unknown solver ${String(solver)}`);
  if (!Number.isFinite(seed)) throw new RangeError(`linearProbe: seed must be a finite number, got ${seed}`);

  const foldOf = foldsOf(labels, numClasses, folds, seed);
  const foldAccuracies: number[] = [];
  let correct = 0;
  for (let f = 0; f < folds; f++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < n; i++) (foldOf[i] === f ? test : train).push(i);
    const predicted = fitAndPredict(data, d, labels, numClasses, train, test, l2, iterations, solver);
    let right = 0;
    for (let t = 0; t < test.length; t++) if (predicted[t] === labels[test[t]]) right++;
    correct += right;
    foldAccuracies.push(test.length > 0 ? right / test.length : Number.NaN);
  }
  return { accuracy: correct / n, foldAccuracies, foldOf };
}

/** Standardizes on `train`, fits the probe, and returns the predicted class of each `test` sample. */
function fitAndPredict(
  data: Float64Array,
  d: number,
  labels: ArrayLike<number>,
  K: number,
  train: number[],
  test: number[],
  l2: number,
  iterations: number,
  solver: 'auto' | 'primal' | 'dual',
): Int32Array {
  const { xTrain, xTest, p } = standardizedFold(data, d, train, test);
  const dual = solver === 'auto' ? p > train.length : solver === 'dual';
  const operators = dual ? dualOperators(xTrain, xTest, train.length, test.length, p, K, l2) : primalOperators(xTrain, xTest, train.length, test.length, p, K, l2);
  const targets = new Float64Array(train.length * K);
  for (let r = 0; r < train.length; r++) targets[r * K + labels[train[r]]] = 1;
  const { theta, bias } = accelerateGradient(operators, targets, train.length, K, l2, iterations);
  const scores = new Float64Array(test.length * K);
  operators.testLogits(theta, scores);
  return predictedClasses(scores, bias, test.length, K);
}

/** The fold's rows standardized with its training part's statistics, keeping only the p features that vary on it. */
function standardizedFold(data: Float64Array, d: number, train: number[], test: number[]): { xTrain: Float64Array; xTest: Float64Array; p: number } {
  const nTrain = train.length;
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (const i of train) for (let j = 0; j < d; j++) mean[j] += data[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= nTrain;
  for (const i of train) {
    for (let j = 0; j < d; j++) {
      const c = data[i * d + j] - mean[j];
      sq[j] += c * c;
    }
  }
  const used: number[] = [];
  const invStd: number[] = [];
  for (let j = 0; j < d; j++) {
    const std = Math.sqrt(sq[j] / nTrain);
    if (std > 0 && std > 1e-10 * Math.abs(mean[j])) {
      used.push(j);
      invStd.push(1 / std);
    }
  }
  const p = used.length;
  const standardize = (indices: number[]): Float64Array => {
    const out = new Float64Array(indices.length * p);
    indices.forEach((row, r) => {
      for (let t = 0; t < p; t++) out[r * p + t] = (data[row * d + used[t]] - mean[used[t]]) * invStd[t];
    });
    return out;
  };
  return { xTrain: standardize(train), xTest: standardize(test), p };
}

/**
 * The model as a linear map from parameters theta (stored transposed, one row per class) to
 * training logits, the objective's gradient from the residual (softmax minus one-hot, one row per
 * class), the test logits, and the largest eigenvalue of X^T X.
 */
interface ProbeOperators {
  /** Parameters per class: p (primal) or nTrain (dual). */
  rows: number;
  trainLogits(theta: Float64Array, out: Float64Array): void;
  gradient(residual: Float64Array, theta: Float64Array, out: Float64Array): void;
  testLogits(theta: Float64Array, out: Float64Array): void;
  lambdaMax: number;
}

/** Primal: theta = W (p x K). */
function primalOperators(xTrain: Float64Array, xTest: Float64Array, nTrain: number, nTest: number, p: number, K: number, l2: number): ProbeOperators {
  const xTrainT = transpose(xTrain, nTrain, p);
  const scratch = new Float64Array(nTrain);
  return {
    rows: p,
    trainLogits: (theta, out) => multiply(xTrain, nTrain, p, theta, K, out),
    gradient: (residual, theta, out) => {
      multiply(xTrainT, p, nTrain, residual, K, out, true);
      for (let i = 0; i < out.length; i++) out[i] = out[i] / nTrain + l2 * theta[i];
    },
    testLogits: (theta, out) => multiply(xTest, nTest, p, theta, K, out),
    lambdaMax: largestEigenvalue((v, out) => {
      multiply(xTrain, nTrain, p, v, 1, scratch);
      multiply(xTrainT, p, nTrain, scratch, 1, out);
    }, p),
  };
}

/** Dual: theta = A (nTrain x K), W = X^T A; the gradient step on W maps to the same step on A with X^T dropped. */
function dualOperators(xTrain: Float64Array, xTest: Float64Array, nTrain: number, nTest: number, p: number, K: number, l2: number): ProbeOperators {
  const gram = gramOfRows(xTrain, nTrain, p);
  const cross = new Float64Array(nTest * nTrain); // X_test X_train^T
  multiply(xTest, nTest, p, xTrain, nTrain, cross);
  return {
    rows: nTrain,
    trainLogits: (theta, out) => multiply(gram, nTrain, nTrain, theta, K, out),
    gradient: (residual, theta, out) => {
      for (let i = 0; i < out.length; i++) out[i] = residual[i] / nTrain + l2 * theta[i];
    },
    testLogits: (theta, out) => multiply(cross, nTest, nTrain, theta, K, out),
    lambdaMax: largestEigenvalue((v, out) => multiply(gram, nTrain, nTrain, v, 1, out), nTrain),
  };
}

/** Nesterov's accelerated gradient on (theta, bias), step 1 / L. */
function accelerateGradient(operators: ProbeOperators, targets: Float64Array, nTrain: number, K: number, l2: number, iterations: number): { theta: Float64Array; bias: Float64Array } {
  const step = 1 / ((CURVATURE_SAFETY * Math.max(operators.lambdaMax, nTrain)) / (2 * nTrain) + l2);
  let theta = new Float64Array(operators.rows * K);
  let thetaPrev = new Float64Array(operators.rows * K);
  let bias = new Float64Array(K);
  let biasPrev = new Float64Array(K);
  const look = new Float64Array(operators.rows * K);
  const lookBias = new Float64Array(K);
  const logits = new Float64Array(nTrain * K);
  const residual = new Float64Array(K * nTrain); // transposed: one row per class
  const grad = new Float64Array(operators.rows * K);
  const gradBias = new Float64Array(K);
  for (let it = 1; it <= iterations; it++) {
    const momentum = (it - 1) / (it + 2);
    for (let i = 0; i < look.length; i++) look[i] = theta[i] + momentum * (theta[i] - thetaPrev[i]);
    for (let k = 0; k < K; k++) lookBias[k] = bias[k] + momentum * (bias[k] - biasPrev[k]);
    operators.trainLogits(look, logits);
    softmaxResidual(logits, lookBias, targets, nTrain, K, residual, gradBias);
    operators.gradient(residual, look, grad);
    // Rotate buffers: prev <- current, current <- look - step * grad.
    [thetaPrev, theta] = [theta, thetaPrev];
    for (let i = 0; i < theta.length; i++) theta[i] = look[i] - step * grad[i];
    [biasPrev, bias] = [bias, biasPrev];
    for (let k = 0; k < K; k++) bias[k] = lookBias[k] - (step * gradBias[k]) / nTrain;
  }
  return { theta, bias };
}

/** residual (one row per class) = softmax(logits + bias) - targets; gradBias = its sum over samples. */
function softmaxResidual(logits: Float64Array, bias: Float64Array, targets: Float64Array, nTrain: number, K: number, residual: Float64Array, gradBias: Float64Array): void {
  gradBias.fill(0);
  for (let r = 0; r < nTrain; r++) {
    const o = r * K;
    let max = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < K; k++) {
      logits[o + k] += bias[k];
      if (logits[o + k] > max) max = logits[o + k];
    }
    let sum = 0;
    for (let k = 0; k < K; k++) {
      // exp(-40) < 1e-17 is negligible next to the largest term (which is 1); flushing it
      // to zero keeps denormals, which are very slow on x86, out of the arithmetic.
      const shifted = logits[o + k] - max;
      const e = shifted < -40 ? 0 : Math.exp(shifted);
      residual[k * nTrain + r] = e;
      sum += e;
    }
    for (let k = 0; k < K; k++) {
      const rk = residual[k * nTrain + r] / sum - targets[o + k];
      residual[k * nTrain + r] = rk;
      gradBias[k] += rk;
    }
  }
}

/** The class of highest score (logits + bias) of each test sample. */
function predictedClasses(scores: Float64Array, bias: Float64Array, nTest: number, K: number): Int32Array {
  const predicted = new Int32Array(nTest);
  for (let r = 0; r < nTest; r++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (scores[r * K + k] + bias[k] > scores[r * K + best] + bias[best]) best = k;
    predicted[r] = best;
  }
  return predicted;
}

/**
 * M (rows x inner) times T^T, for T stored as k rows of `inner` values: every entry is a dot
 * product of two contiguous rows. Writes out[i * k + c], or out[c * rows + i] when `transposedOut`.
 */
function multiply(M: Float64Array, rows: number, inner: number, T: Float64Array, k: number, out: Float64Array, transposedOut = false): void {
  out.set(transposedOut ? rowProducts(T, k, M, rows, inner) : rowProducts(M, rows, T, k, inner));
}

/** Largest eigenvalue of a symmetric positive semi-definite operator by power iteration. */
function largestEigenvalue(apply: (v: Float64Array, out: Float64Array) => void, size: number): number {
  if (size === 0) return 0;
  let v = new Float64Array(size);
  let w = new Float64Array(size);
  for (let i = 0; i < size; i++) v[i] = 1 + ((i * 7919) % 13) / 13; // deterministic, not orthogonal to much
  let estimate = 0;
  for (let it = 0; it < POWER_ITERATIONS; it++) {
    let norm = 0;
    for (let i = 0; i < size; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    if (norm === 0) return 0;
    for (let i = 0; i < size; i++) v[i] /= norm;
    apply(v, w);
    let rayleigh = 0;
    for (let i = 0; i < size; i++) rayleigh += v[i] * w[i];
    estimate = rayleigh;
    const swap = v;
    v = w;
    w = swap;
  }
  return estimate;
}
