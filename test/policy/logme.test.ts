import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/train/seeded-random';
import { clusters, gaussian } from '../helpers/clusters';
import { logEvidence, logme, logmeDetailed, symmetricEigen } from '../../src/policy/logme';




/** log N(y; 0, a I + b G) for G = F F^T, by Cholesky of the n x n covariance: no spectrum involved. */
function directLogEvidence(G: number[][], y: number[], a: number, b: number): number {
  const n = G.length;
  const Lo: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = b * G[i][j] + (i === j ? a : 0);
      for (let t = 0; t < j; t++) s -= Lo[i][t] * Lo[j][t];
      Lo[i][j] = i === j ? Math.sqrt(s) : s / Lo[j][j];
    }
  }
  let logDet = 0;
  for (let i = 0; i < n; i++) logDet += 2 * Math.log(Lo[i][i]);
  const u: number[] = []; // L u = y, so y^T C^-1 y = |u|^2
  for (let i = 0; i < n; i++) {
    let s = y[i];
    for (let t = 0; t < i; t++) s -= Lo[i][t] * u[t];
    u.push(s / Lo[i][i]);
  }
  const quad = u.reduce((acc, v) => acc + v * v, 0);
  return -0.5 * (n * Math.log(2 * Math.PI) + logDet + quad);
}

function gramOf(features: number[][]): number[][] {
  return features.map((fi) => features.map((fj) => fi.reduce((s, v, t) => s + v * fj[t], 0)));
}

/** Brute force: a grid over (log a, log b), then a pattern search from its best point. */
function bruteForceMaximum(G: number[][], y: number[]): number {
  const f = (la: number, lb: number): number => directLogEvidence(G, y, Math.exp(la), Math.exp(lb));
  let best = { value: Number.NEGATIVE_INFINITY, la: 0, lb: 0 };
  for (let la = -15; la <= 5; la += 0.5) {
    for (let lb = -15; lb <= 10; lb += 0.5) {
      const value = f(la, lb);
      if (value > best.value) best = { value, la, lb };
    }
  }
  for (let step = 0.25; step > 1e-7; ) {
    let moved = false;
    for (const [da, db] of [
      [step, 0],
      [-step, 0],
      [0, step],
      [0, -step],
      [step, step],
      [-step, -step],
      [step, -step],
      [-step, step],
    ]) {
      const value = f(best.la + da, best.lb + db);
      if (value > best.value) {
        best = { value, la: best.la + da, lb: best.lb + db };
        moved = true;
      }
    }
    if (!moved) step /= 2;
  }
  return best.value;
}

// Tiny fixtures with interior optima; fixed numbers from numpy (slogdet/solve of the covariance,
// grid then pattern search over log a, log b), recomputed below when numpy is present.
const tall = {
  features: [
    [0.2, 1.1, -0.3],
    [0.5, 0.9, 0.1],
    [1.4, -0.2, 0.8],
    [1.1, 0.1, 0.6],
    [-0.7, 0.3, 1.5],
    [-0.4, 0.6, 1.2],
    [0.3, 1.3, 0.0],
    [1.2, 0.2, 0.4],
    [-0.5, 0.1, 1.1],
    [0.9, 0.8, 0.7],
  ],
  labels: [0, 0, 1, 1, 2, 2, 0, 1, 2, 1],
  numClasses: 3,
  numpyScore: -0.2522810542883033,
};
const wide = {
  features: [
    [0.2, 1.1, -0.3, 0.4, 0.0, 0.9, -0.2],
    [0.5, 0.9, 0.1, 0.3, 0.2, 0.7, 0.1],
    [1.4, -0.2, 0.8, -0.1, 0.6, 0.0, 0.3],
    [1.1, 0.1, 0.6, 0.2, 0.9, -0.3, 0.5],
    [0.3, 0.7, 0.2, 0.5, 0.1, 0.8, 0.0],
  ],
  labels: [0, 0, 1, 1, 0],
  numClasses: 2,
  numpyScore: -0.36589565041679895,
};

const NUMPY_REFERENCE = `
import json, sys, numpy as np
d = json.loads(sys.stdin.read())
F = np.array(d['features'], dtype=np.float64); y = np.array(d['labels']); n = F.shape[0]
G = F @ F.T
def ev(t, la, lb):
    C = np.exp(la) * np.eye(n) + np.exp(lb) * G
    _, logdet = np.linalg.slogdet(C)
    return -0.5 * (n * np.log(2 * np.pi) + logdet + t @ np.linalg.solve(C, t))
scores = []
for k in range(d['numClasses']):
    t = (y == k).astype(float)
    best = max((ev(t, a, b), a, b) for a in np.linspace(-20, 5, 51) for b in np.linspace(-20, 10, 61))
    step = 0.5
    while step > 1e-7:
        _, a0, b0 = best
        cand = max((ev(t, a, b), a, b) for a in a0 + step * np.arange(-2, 3) for b in b0 + step * np.arange(-2, 3))
        if cand[0] > best[0]: best = cand
        else: step /= 2
    scores.append(best[0] / n)
print(float(np.mean(scores)))
`;

function numpyAvailable(): boolean {
  const probe = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
  return probe.status === 0;
}

describe('logme', () => {
  for (const [name, fixture] of [
    ['n > d', tall],
    ['n < d', wide],
  ] as const) {
    it(`matches an independent maximization of the evidence (${name})`, () => {
      const result = logmeDetailed(fixture.features, fixture.labels, fixture.numClasses);
      let reference = fixture.numpyScore;
      if (numpyAvailable()) {
        const run = spawnSync('python3', ['-c', NUMPY_REFERENCE], { input: JSON.stringify(fixture), encoding: 'utf8' });
        assert.equal(run.status, 0, run.stderr);
        reference = Number(run.stdout.trim());
        assert.ok(Math.abs(reference - fixture.numpyScore) < 1e-9, `numpy now says ${reference}`);
      }
      assert.ok(Math.abs(result.score - reference) < 1e-8, `logme ${result.score}, reference ${reference}`);

      // Per class: the value equals the dense formula at the returned alpha and beta, and a
      // brute-force search over (log a, log b) on the dense formula finds the same maximum.
      const G = gramOf(fixture.features);
      const n = fixture.features.length;
      for (const c of result.perClass) {
        assert.ok(c.converged);
        const y = fixture.labels.map((label) => (label === c.classIndex ? 1 : 0));
        const direct = directLogEvidence(G, y, 1 / c.beta, 1 / c.alpha) / n;
        assert.ok(Math.abs(direct - c.evidencePerSample) < 1e-12, `direct ${direct} vs ${c.evidencePerSample}`);
        const brute = bruteForceMaximum(G, y) / n;
        assert.ok(brute <= c.evidencePerSample + 1e-12, `brute force ${brute} beats ${c.evidencePerSample}`);
        assert.ok(c.evidencePerSample - brute < 1e-10, `brute force ${brute} vs ${c.evidencePerSample}`);
      }
    });
  }

  it('scores features that carry the label above noisier and random features (n > d and n < d)', () => {
    for (const [n, d] of [
      [200, 32],
      [60, 200],
    ]) {
      const clean = clusters(n, d, 4, 1, 1, 1);
      const noisy = clusters(n, d, 4, 1, 3, 1);
      const random = clusters(n, d, 4, 0, 1, 1);
      const scores = [clean, noisy, random].map((s) => logme(s.features, s.labels, 4));
      assert.ok(scores[0] > scores[1] && scores[1] > scores[2], `n=${n} d=${d}: ${scores.join(' > ')}?`);
      for (const s of scores) assert.ok(Number.isFinite(s));
    }
  });

  it('is invariant to multiplying all features by one constant, but not to rescaling features separately', () => {
    const { features, labels } = clusters(120, 20, 3, 0.7, 1, 5);
    const base = logme(features, labels, 3);
    for (const c of [1e-3, 7, 1e3]) {
      const scaled = features.map((row) => Array.from(row, (v) => v * c));
      const score = logme(scaled, labels, 3);
      assert.ok(Math.abs(score - base) < 1e-9, `scale ${c}: ${score} vs ${base}`);
    }
    const stretched = features.map((row) => Array.from(row, (v, j) => (j < 10 ? v * 10 : v)));
    assert.ok(Math.abs(logme(stretched, labels, 3) - base) > 1e-3);
  });

  it('ignores all-zero features: only F F^T matters', () => {
    const { features, labels } = clusters(50, 8, 2, 1, 1, 9);
    const padded = features.map((row) => [...row, ...new Array<number>(100).fill(0)]);
    assert.ok(Math.abs(logme(padded, labels, 2) - logme(features, labels, 2)) < 1e-9);
  });

  it('returns finite scores for rank-deficient, constant, degenerate and odd-shaped inputs', () => {
    const { features, labels } = clusters(40, 6, 3, 1, 1, 3);
    const cases: Array<[string, number[][] | Float32Array[], number[], number]> = [
      ['duplicated columns', features.map((r) => [...r, ...r, ...r]), labels, 3],
      ['duplicated rows, n < d', [...features.slice(0, 5), ...features.slice(0, 5)].map((r) => [...r, ...r, ...r]), [...labels.slice(0, 5), ...labels.slice(0, 5)], 3],
      ['a constant feature', features.map((r) => [...r, 5]), labels, 3],
      ['only constant features', features.map(() => [1, 2, 3]), labels, 3],
      ['all-zero features', features.map(() => [0, 0]), labels, 3],
      ['one sample', [[1, 2, 3]], [0], 2],
      ['one feature', features.map((r) => [r[0]]), labels, 3],
      ['a class without samples', features, labels, 5],
      ['every sample in one class', features, labels.map(() => 0), 3],
      ['a feature equal to the label, n > d', features.map((r, i) => [...r, labels[i] === 0 ? 1 : 0, 1]), labels, 3],
      ['labels in the span, n < d', features.slice(0, 4).map((r) => [...r, ...r]), [0, 1, 2, 0], 3],
      ['tiny values', features.map((r) => Array.from(r, (v) => v * 1e-30)), labels, 3],
      ['huge values', features.map((r) => Array.from(r, (v) => v * 1e30)), labels, 3],
    ];
    for (const [name, f, l, k] of cases) {
      const score = logme(f, l, k);
      assert.ok(Number.isFinite(score), `${name}: ${score}`);
    }
  });

  it('leaves classes without samples out of the mean', () => {
    const { features, labels } = clusters(40, 6, 3, 1, 1, 3);
    const three = logmeDetailed(features, labels, 3);
    const five = logmeDetailed(features, labels, 5);
    assert.equal(five.perClass.length, 3);
    assert.equal(five.score, three.score);
  });

  it('rejects malformed input', () => {
    assert.throws(() => logme([], [], 2), RangeError);
    assert.throws(() => logme([[1, 2]], [0, 1], 2), RangeError);
    assert.throws(() => logme([[1, 2], [3]], [0, 1], 2), RangeError);
    assert.throws(() => logme([[1, 2]], [2], 2), RangeError);
    assert.throws(() => logme([[1, Number.NaN]], [0], 2), RangeError);
  });

  it('scores 500 x 1280 features in well under 2 s of CPU, and 500 x 96 quickly', () => {
    const random = seededRandom(11);
    const big = Array.from({ length: 500 }, () => Float32Array.from({ length: 1280 }, () => Math.max(0, gaussian(random))));
    const small = big.map((row) => row.slice(0, 96));
    const labels = big.map((_, i) => i % 10);
    let start = process.cpuUsage();
    assert.ok(Number.isFinite(logme(big, labels, 10)));
    let used = process.cpuUsage(start);
    const bigMs = (used.user + used.system) / 1000;
    start = process.cpuUsage();
    assert.ok(Number.isFinite(logme(small, labels, 10)));
    used = process.cpuUsage(start);
    const smallMs = (used.user + used.system) / 1000;
    assert.ok(bigMs < 2000, `500 x 1280 took ${bigMs} ms`);
    assert.ok(smallMs < 500, `500 x 96 took ${smallMs} ms`);
  });
});

describe('symmetricEigen', () => {
  it('finds the spectrum and the coordinates of vectors in the eigenbasis', () => {
    const random = seededRandom(2);
    for (const m of [1, 2, 5, 30]) {
      // A = Q diag(lambda) Q^T with a random Householder Q and a known spectrum (with repeats).
      const lambda = Array.from({ length: m }, (_, i) => (i % 3 === 0 ? 2 : i - m / 2));
      const v = Array.from({ length: m }, () => gaussian(random));
      const vv = v.reduce((s, x) => s + x * x, 0);
      const Q = (i: number, j: number): number => (i === j ? 1 : 0) - (2 * v[i] * v[j]) / vv;
      const A = new Float64Array(m * m);
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) for (let t = 0; t < m; t++) A[i * m + j] += Q(i, t) * lambda[t] * Q(j, t);
      const y = Array.from({ length: m }, () => gaussian(random));
      const Ay = y.map((_, i) => y.reduce((s, yj, j) => s + A[i * m + j] * yj, 0));
      const quad = y.reduce((s, yi, i) => s + yi * Ay[i], 0);
      const rhs = Float64Array.from(y);
      const { values } = symmetricEigen(A.slice(), m, rhs, 1);
      const sorted = Array.from(values).sort((p, q) => p - q);
      const expected = [...lambda].sort((p, q) => p - q);
      sorted.forEach((value, i) => assert.ok(Math.abs(value - expected[i]) < 1e-12, `m=${m}: ${value} vs ${expected[i]}`));
      // The basis is orthonormal (norm kept) and diagonalizes A (y^T A y = sum lambda z^2).
      const norm = y.reduce((s, x) => s + x * x, 0);
      assert.ok(Math.abs(rhs.reduce((s, z) => s + z * z, 0) - norm) < 1e-12 * norm);
      const spectralQuad = Array.from(values).reduce((s, l, i) => s + l * rhs[i] * rhs[i], 0);
      assert.ok(Math.abs(spectralQuad - quad) < 1e-10 * (1 + Math.abs(quad)));
    }
  });

  it('evaluates the evidence formula consistently with the dense one', () => {
    // One feature: F F^T = f f^T has eigenvalue |f|^2 along f / |f|.
    const f = [1, 2, 2];
    const y = [1, 0, 1];
    const norm = 3;
    const z = (f[0] * y[0] + f[1] * y[1] + f[2] * y[2]) / norm;
    const outside = y.reduce((s, v) => s + v * v, 0) - z * z;
    const spectral = logEvidence([norm * norm], [z], outside, 3, 0.3, 0.7);
    const dense = directLogEvidence(gramOf(f.map((v) => [v])), y, 0.3, 0.7);
    assert.ok(Math.abs(spectral - dense) < 1e-12);
  });
});
