/**
 * LogME: the logarithm of the maximum evidence of a Bayesian linear model on frozen features
 * (You, Liu, Wang, Long, "LogME: Practical Assessment of Pre-trained Models for Transfer
 * Learning", ICML 2021). A transferability estimate that needs no training of the network:
 * the higher the score, the better a linear head on these features is expected to do.
 *
 * For each class k the target is the one-hot column y_k (n values in {0, 1}). The model is
 *   w ~ N(0, alpha^-1 I_d),   y_k | F, w ~ N(F w, beta^-1 I_n),
 * so the marginal likelihood (the evidence) is y_k ~ N(0, beta^-1 I_n + alpha^-1 F F^T).
 * Alpha and beta are set to maximize it by MacKay's fixed-point iterations (the paper's
 * Algorithm 1):
 *   gamma = sum_i beta s_i / (alpha + beta s_i),  alpha <- gamma / |m|^2,  beta <- (n - gamma) / |F m - y|^2,
 * where s_i are the eigenvalues of F^T F and m the posterior mean of w. The score is the mean
 * over classes of (maximum log evidence) / n.
 *
 * Everything the iterations need is the spectrum of F F^T (equivalently F^T F) and the
 * projections z = U^T y_k of each target on its eigenvectors, so one symmetric
 * eigendecomposition of the smaller Gram matrix (n x n when n <= d, else d x d) serves all
 * classes, and each iteration costs O(rank). The eigendecomposition (Householder
 * tridiagonalization, then implicit QR with Wilkinson shifts) never forms the eigenvectors:
 * the reflections and rotations are applied to the targets directly.
 *
 * With (a, b) = (1 / beta, 1 / alpha) the evidence is evaluated in the numerically benign form
 *   log p(y) = -n/2 log 2 pi - 1/2 sum_{i <= r} [z_i^2 / (a + b s_i) + log(a + b s_i)]
 *              - 1/2 [r0 / a + (n - r) log a],
 * where r is the numerical rank and r0 = |y|^2 - sum_{i <= r} z_i^2 the part of y outside the
 * span of the features. This is the paper's formula with log|A| taken over all d eigenvalues
 * of alpha I + beta F^T F (zero eigenvalues included), so d itself drops out and n < d needs
 * no special case.
 *
 * Properties worth knowing:
 * - Multiplying all features by one constant c leaves the score unchanged (alpha absorbs c^2).
 *   Scaling features individually, or shifting them, does change it: the prior is isotropic
 *   and there is no unpenalized bias (as in the paper).
 * - Constant features act as a (penalized) bias; all-zero features have no effect.
 * - When a target lies exactly in the span of the features and n exceeds the rank, the
 *   evidence grows without bound as the noise vanishes. The noise variance a = 1/beta is
 *   therefore kept at or above 1e-12 * |y|^2 / n, which keeps every score finite.
 * - Classes with no sample (an all-zero target, whose evidence is unbounded) are left out of
 *   the mean.
 */
import { gramOfRows } from '../linear-algebra/row-products';

export type FeatureRows = ArrayLike<number>[];

export interface LogmeOptions {
  /** Stop when alpha and beta both change by less than this relative amount. Default 1e-7. */
  tolerance?: number;
  /** Cap on fixed-point iterations per class. Default 1000 (each costs O(rank)). */
  maxIterations?: number;
}

export interface LogmeClassResult {
  classIndex: number;
  /** Number of samples of this class. */
  count: number;
  /** Maximum log evidence divided by n. */
  evidencePerSample: number;
  /** Prior precision of the weights at the maximum; Infinity when the features explain none of this class. */
  alpha: number;
  /** Noise precision at the maximum. */
  beta: number;
  iterations: number;
  converged: boolean;
}

export interface LogmeResult {
  /** Mean over the classes present of evidencePerSample: the LogME score. */
  score: number;
  n: number;
  d: number;
  /** Numerical rank of the feature matrix. */
  rank: number;
  perClass: LogmeClassResult[];
}

const DEFAULT_TOLERANCE = 1e-7;
const DEFAULT_MAX_ITERATIONS = 1000;
/** Noise variance floor relative to the target's mean square; see the module comment. */
const NOISE_FLOOR = 1e-12;
const LOG_2PI = Math.log(2 * Math.PI);

/** LogME score of `features` (n rows of d values) for integer `labels` in [0, numClasses). */
export function logme(features: FeatureRows, labels: ArrayLike<number>, numClasses: number, options: LogmeOptions = {}): number {
  return logmeDetailed(features, labels, numClasses, options).score;
}

/** LogME with the per-class evidence and hyperparameters. */
export function logmeDetailed(
  features: FeatureRows,
  labels: ArrayLike<number>,
  numClasses: number,
  options: LogmeOptions = {},
): LogmeResult {
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
  const maxIterations = options.maxIterations ?? DEFAULT_MAX_ITERATIONS;
  if (!(tolerance > 0)) throw new RangeError(`logme: tolerance must be positive, got ${tolerance}`);
  if (!(Number.isInteger(maxIterations) && maxIterations >= 1)) {
    throw new RangeError(`logme: maxIterations must be a positive integer, got ${maxIterations}`);
  }
  const { data, n, d } = toRowMajor(features, 'logme');
  const counts = checkLabels(labels, n, numClasses, 'logme');
  // Targets: one row per class present.
  const present: number[] = [];
  for (let k = 0; k < numClasses; k++) if (counts[k] > 0) present.push(k);
  const { gram, rhs } = gramAndTargets(data, n, d, labels, new Map(present.map((k, i) => [k, i])), present.length);
  const m = Math.min(n, d);
  const { values } = symmetricEigen(gram, m, rhs, present.length);
  const spectrum = keptSpectrum(values, m, Math.max(n, d));
  const perClass = present.map((k, r): LogmeClassResult => {
    const { z, outside } = classProjection(rhs.subarray(r * m, (r + 1) * m), spectrum, n <= d, counts[k]);
    const fit = maximizeEvidence(spectrum.sigma, z, outside, n, counts[k], spectrum.sigmaSum, tolerance, maxIterations);
    return {
      classIndex: k,
      count: counts[k],
      evidencePerSample: fit.logEvidence / n,
      alpha: fit.b > 0 ? 1 / fit.b : Number.POSITIVE_INFINITY,
      beta: 1 / fit.a,
      iterations: fit.iterations,
      converged: fit.converged,
    };
  });
  const score = perClass.reduce((sum, c) => sum + c.evidencePerSample, 0) / perClass.length;
  return { score, n, d, rank: spectrum.kept.length, perClass };
}

/**
 * The smaller Gram matrix and the one-hot targets (one row per class present) in its space:
 * n <= d, F F^T, whose eigenvectors are the left singular vectors U (z = U^T y); otherwise F^T F =
 * V S^2 V^T, with F^T y (z_i = (V^T F^T y)_i / s_i).
 */
function gramAndTargets(data: Float64Array, n: number, d: number, labels: ArrayLike<number>, row: Map<number, number>, K: number): { gram: Float64Array; rhs: Float64Array } {
  if (n <= d) {
    const rhs = new Float64Array(K * n);
    for (let i = 0; i < n; i++) {
      const r = row.get(labels[i]);
      if (r !== undefined) rhs[r * n + i] = 1;
    }
    return { gram: gramOfRows(data, n, d), rhs };
  }
  const rhs = new Float64Array(K * d);
  for (let i = 0; i < n; i++) {
    const r = row.get(labels[i]);
    if (r === undefined) continue;
    for (let j = 0; j < d; j++) rhs[r * d + j] += data[i * d + j];
  }
  return { gram: gramOfRows(transpose(data, n, d), d, n), rhs };
}

/** The eigenvalues above the numerical noise (largest x size x machine epsilon): their indices, values and sum. */
function keptSpectrum(values: Float64Array, m: number, size: number): { kept: number[]; sigma: Float64Array; sigmaSum: number } {
  let sigmaMax = 0;
  for (let i = 0; i < m; i++) sigmaMax = Math.max(sigmaMax, values[i]);
  const threshold = sigmaMax * size * Number.EPSILON;
  const kept: number[] = [];
  for (let i = 0; i < m; i++) if (values[i] > threshold) kept.push(i);
  const sigma = Float64Array.from(kept, (i) => values[i]);
  return { kept, sigma, sigmaSum: sigma.reduce((a, b) => a + b, 0) };
}

/**
 * One class's targets on the kept eigenvectors (`projected`: the transformed targets of the class),
 * and the squared norm of the rest: exact (the components along zero eigenvalues) when the Gram is
 * F F^T, the remainder of |y|^2 otherwise.
 */
function classProjection(projected: Float64Array, { kept, sigma }: ReturnType<typeof keptSpectrum>, samplesGram: boolean, yNormSq: number): { z: Float64Array; outside: number } {
  const z = Float64Array.from(kept, (i, t) => (samplesGram ? projected[i] : projected[i] / Math.sqrt(sigma[t])));
  if (!samplesGram) return { z, outside: Math.max(0, yNormSq - z.reduce((sum, v) => sum + v * v, 0)) };
  const keptSet = new Uint8Array(projected.length);
  for (const i of kept) keptSet[i] = 1;
  let outside = 0;
  for (let i = 0; i < projected.length; i++) if (!keptSet[i]) outside += projected[i] ** 2;
  return { z, outside };
}

/**
 * Log evidence log N(y; 0, a I + b F F^T) from the spectrum: `sigma` the nonzero eigenvalues of
 * F F^T, `z` the projections of y on their eigenvectors, `outside` the squared norm of the rest
 * of y. Exported for tests.
 */
export function logEvidence(sigma: ArrayLike<number>, z: ArrayLike<number>, outside: number, n: number, a: number, b: number): number {
  const r = sigma.length;
  let total = -0.5 * n * LOG_2PI;
  for (let i = 0; i < r; i++) {
    const v = a + b * sigma[i];
    total -= 0.5 * ((z[i] * z[i]) / v + Math.log(v));
  }
  if (n > r) total -= 0.5 * (outside / a + (n - r) * Math.log(a));
  return total;
}

interface EvidenceFit {
  logEvidence: number;
  /** Noise variance 1/beta. */
  a: number;
  /** Prior variance 1/alpha. */
  b: number;
  iterations: number;
  converged: boolean;
}

/** MacKay's fixed point in (a, b) = (1/beta, 1/alpha): b <- |m|^2 / gamma, a <- |y - F m|^2 / (n - gamma). */
function maximizeEvidence(
  sigma: Float64Array,
  z: Float64Array,
  outside: number,
  n: number,
  yNormSq: number,
  sigmaSum: number,
  tolerance: number,
  maxIterations: number,
): EvidenceFit {
  const r = sigma.length;
  const aFloor = (NOISE_FLOOR * yNormSq) / n;
  // Start from unit noise variance and a prior that gives the predictions unit variance on
  // average; the latter makes the iterates, not just the optimum, equivariant to feature scale.
  let a = 1;
  let b = r > 0 ? n / sigmaSum : 0;
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    iterations++;
    let gamma = 0; // effective number of parameters
    let nMinusGamma = n - r; // computed without cancellation
    let weightNormSq = 0; // |m|^2 = sum s z^2 b^2 / (a + b s)^2
    let residualSq = outside; // |y - F m|^2
    for (let i = 0; i < r; i++) {
      const s = sigma[i];
      const v = a + b * s;
      gamma += (b * s) / v;
      nMinusGamma += a / v;
      const zi = z[i];
      weightNormSq += (s * zi * zi * b * b) / (v * v);
      const res = (a * zi) / v;
      residualSq += res * res;
    }
    const nextB = gamma > 0 ? weightNormSq / gamma : 0;
    let nextA = nMinusGamma > 0 ? residualSq / nMinusGamma : aFloor;
    if (!(nextA >= aFloor)) nextA = aFloor;
    if (!Number.isFinite(nextA) || !Number.isFinite(nextB)) break;
    const changeA = Math.abs(nextA - a) / a;
    const changeB = b > 0 ? Math.abs(nextB - b) / b : nextB > 0 ? Number.POSITIVE_INFINITY : 0;
    a = nextA;
    b = nextB;
    if (changeA < tolerance && changeB < tolerance) {
      converged = true;
      break;
    }
  }
  return { logEvidence: logEvidence(sigma, z, outside, n, a, b), a, b, iterations, converged };
}

// ---------------------------------------------------------------------------------------------
// Linear algebra on flat row-major Float64Arrays.

/** Copies feature rows into one row-major Float64Array, checking shape and finiteness. */
export function toRowMajor(features: FeatureRows, caller: string): { data: Float64Array; n: number; d: number } {
  const n = features.length;
  if (n === 0) throw new RangeError(`${caller}: no samples`);
  const d = features[0].length;
  if (d === 0) throw new RangeError(`${caller}: samples have no features`);
  const data = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const rowValues = features[i];
    if (rowValues.length !== d) throw new RangeError(`${caller}: sample ${i} has ${rowValues.length} features, sample 0 has ${d}`);
    const base = i * d;
    for (let j = 0; j < d; j++) {
      const v = rowValues[j];
      if (!Number.isFinite(v)) throw new RangeError(`${caller}: feature ${j} of sample ${i} is ${v}`);
      data[base + j] = v;
    }
  }
  return { data, n, d };
}

/** Checks labels against n and numClasses; returns the count per class. */
export function checkLabels(labels: ArrayLike<number>, n: number, numClasses: number, caller: string): number[] {
  if (!(Number.isInteger(numClasses) && numClasses >= 1)) throw new RangeError(`${caller}: numClasses must be a positive integer, got ${numClasses}`);
  if (labels.length !== n) throw new RangeError(`${caller}: ${labels.length} labels for ${n} samples`);
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < n; i++) {
    const label = labels[i];
    if (!(Number.isInteger(label) && label >= 0 && label < numClasses)) {
      throw new RangeError(`${caller}: label ${label} of sample ${i} is not an integer in [0, ${numClasses})`);
    }
    counts[label]++;
  }
  return counts;
}

export function transpose(data: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) out[j * rows + i] = data[base + j];
  }
  return out;
}


/**
 * Eigenvalues of the symmetric m x m matrix `matrix` (row-major; overwritten), and for each of
 * the `count` vectors stored as rows of `rhs` (count x m; overwritten) its coordinates in the
 * eigenvector basis, U^T y, in the order of the returned eigenvalues. Eigenvectors themselves
 * are never formed. Householder reduction to tridiagonal form, then implicit symmetric QR steps
 * with Wilkinson shifts (Golub & Van Loan, Matrix Computations, 8.3). Exported for tests.
 */
export function symmetricEigen(matrix: Float64Array, m: number, rhs: Float64Array, count: number): { values: Float64Array; iterations: number } {
  const diag = new Float64Array(m);
  const off = new Float64Array(Math.max(0, m - 1)); // off[i] couples i and i + 1
  tridiagonalize(matrix, m, rhs, count, diag, off);
  const iterations = tridiagonalQr(diag, off, m, rhs, count);
  return { values: diag, iterations };
}

/**
 * A = Q T Q^T with Q = H_0 H_1 ... H_{m-3}; writes T's diagonal and off-diagonal and replaces
 * every rhs row y by Q^T y.
 */
function tridiagonalize(A: Float64Array, m: number, rhs: Float64Array, count: number, diag: Float64Array, off: Float64Array): void {
  const v = new Float64Array(m);
  const p = new Float64Array(m);
  for (let k = 0; k + 2 < m; k++) {
    const start = k + 1; // the reflection acts on indices start..m-1
    const rowK = k * m;
    let tailSq = 0;
    for (let i = start + 1; i < m; i++) tailSq += A[rowK + i] * A[rowK + i];
    const head = A[rowK + start];
    if (tailSq === 0) continue; // column already reduced
    const norm = Math.sqrt(head * head + tailSq);
    const alpha = head > 0 ? -norm : norm; // the sign that avoids cancellation in v[start]
    v[start] = head - alpha;
    for (let i = start + 1; i < m; i++) v[i] = A[rowK + i];
    const vNormSq = v[start] * v[start] + tailSq;
    const tau = 2 / vNormSq; // H = I - tau v v^T

    // p = tau S v for the trailing block S; w = p - (tau/2)(p.v) v; S <- S - v w^T - w v^T.
    let pv = 0;
    for (let i = start; i < m; i++) {
      const rowI = i * m;
      let s = 0;
      for (let j = start; j < m; j++) s += A[rowI + j] * v[j];
      p[i] = tau * s;
      pv += p[i] * v[i];
    }
    const half = 0.5 * tau * pv;
    for (let i = start; i < m; i++) p[i] -= half * v[i]; // p now holds w
    for (let i = start; i < m; i++) {
      const rowI = i * m;
      const vi = v[i];
      const wi = p[i];
      for (let j = start; j < m; j++) A[rowI + j] -= vi * p[j] + wi * v[j];
    }
    A[rowK + start] = alpha;
    A[start * m + k] = alpha;
    for (let i = start + 1; i < m; i++) {
      A[rowK + i] = 0;
      A[i * m + k] = 0;
    }
    for (let c = 0; c < count; c++) {
      const base = c * m;
      let dot = 0;
      for (let i = start; i < m; i++) dot += v[i] * rhs[base + i];
      const scale = tau * dot;
      if (scale !== 0) for (let i = start; i < m; i++) rhs[base + i] -= scale * v[i];
    }
  }
  for (let i = 0; i < m; i++) diag[i] = A[i * m + i];
  for (let i = 0; i + 1 < m; i++) off[i] = A[i * m + i + 1];
}

/**
 * Diagonalizes the symmetric tridiagonal (diag, off) in place by implicit QR steps with
 * Wilkinson shifts, applying every rotation to the rhs rows. Returns the number of QR steps.
 */
function tridiagonalQr(diag: Float64Array, off: Float64Array, m: number, rhs: Float64Array, count: number): number {
  const eps = Number.EPSILON;
  const maxSteps = 30 * Math.max(1, m);
  let steps = 0;
  let q = m - 1; // bottom of the active block
  while (q > 0) {
    // Deflate converged eigenvalues at the bottom.
    if (Math.abs(off[q - 1]) <= eps * (Math.abs(diag[q - 1]) + Math.abs(diag[q]))) {
      off[q - 1] = 0;
      q--;
      continue;
    }
    // Top of the unreduced block ending at q.
    let p = q - 1;
    while (p > 0 && Math.abs(off[p - 1]) > eps * (Math.abs(diag[p - 1]) + Math.abs(diag[p]))) p--;
    if (p > 0) off[p - 1] = 0;
    if (steps++ >= maxSteps) break; // not expected; leaves the best approximations found

    // Wilkinson shift: the eigenvalue of the trailing 2x2 closer to diag[q].
    const e = off[q - 1];
    const delta = 0.5 * (diag[q - 1] - diag[q]);
    const denom = delta + (delta >= 0 ? 1 : -1) * Math.hypot(delta, e);
    const mu = denom === 0 ? diag[q] : diag[q] - (e * e) / denom;

    // Chase the bulge from p down to q with rotations on planes (k, k + 1).
    let x = diag[p] - mu;
    let y = off[p];
    for (let k = p; k < q; k++) {
      const r = Math.hypot(x, y);
      const c = r === 0 ? 1 : x / r;
      const s = r === 0 ? 0 : y / r;
      if (k > p) off[k - 1] = r; // the bulge is gone
      const a0 = diag[k];
      const a1 = diag[k + 1];
      const b0 = off[k];
      diag[k] = c * c * a0 + 2 * c * s * b0 + s * s * a1;
      diag[k + 1] = s * s * a0 - 2 * c * s * b0 + c * c * a1;
      off[k] = c * s * (a1 - a0) + (c * c - s * s) * b0;
      if (k + 1 < q) {
        const b1 = off[k + 1];
        x = off[k];
        y = s * b1; // new bulge at (k, k + 2)
        off[k + 1] = c * b1;
      }
      for (let t = 0; t < count; t++) {
        const base = t * m + k;
        const u0 = rhs[base];
        const u1 = rhs[base + 1];
        rhs[base] = c * u0 + s * u1;
        rhs[base + 1] = c * u1 - s * u0;
      }
    }
  }
  return steps;
}
