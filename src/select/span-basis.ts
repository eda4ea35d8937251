/**
 * An orthonormal basis Q of the span of a set of samples (the rows of x), for models whose first
 * layer is penalized by |W|^2: with W = Q B, |W| = |B| and x W = (x Q) B, so fitting B on the
 * coordinates z = x Q is the same problem with r <= n columns instead of d. Found by a Cholesky
 * factorization of the Gram matrix x x^T: z is its lower-triangular factor (samples in the span of
 * earlier ones are dropped), and Q = x_kept^T L_kept^-T.
 */
import { gramOfRows, rowProducts } from '../linear-algebra/row-products';
import type { FeatureMatrix } from './logistic-regression';

export interface SpanBasis {
  /** The samples' coordinates, n x r, row-major. */
  coordinates: FeatureMatrix;
  /**
   * Row i of the coordinates is zero past column leading[i] (exclusive): the factor is triangular,
   * and the products skip those zeros.
   */
  leading: Int32Array;
  /** Coordinates of other samples (their projection onto the span), m x r. */
  project(x: FeatureMatrix): FeatureMatrix;
  /** Weights on the features (d x k) of weights on the coordinates (r x k), both row-major. */
  toFeatureWeights(b: Float64Array, k: number): Float64Array;
}

/** With at least as many samples as features the basis is the identity (the features themselves). */
export function spanBasis(x: FeatureMatrix): SpanBasis {
  const { rows: n, cols: d } = x;
  if (d <= n) {
    return { coordinates: x, leading: new Int32Array(n).fill(d), project: (rows) => rows, toFeatureWeights: (b) => Float64Array.from(b) };
  }
  const { factor, kept } = pivotedCholesky(gramOfRows(x.data, n, d), n);
  const r = kept.length;
  const z = new Float64Array(n * r);
  const leading = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < r && kept[c] <= i; c++) {
      z[i * r + c] = factor[i * n + kept[c]];
      leading[i] = c + 1;
    }
  }
  const keptRows: FeatureMatrix = { data: new Float64Array(r * d), rows: r, cols: d };
  kept.forEach((row, c) => keptRows.data.set(x.data.subarray(row * d, (row + 1) * d), c * d));
  // L_kept: the kept rows and columns of the factor, r x r lower triangular.
  const l = new Float64Array(r * r);
  for (let a = 0; a < r; a++) for (let b = 0; b <= a; b++) l[a * r + b] = factor[kept[a] * n + kept[b]];
  return {
    coordinates: { data: z, rows: n, cols: r },
    leading,
    project: (rows) => projectOnto(rows, keptRows, l),
    toFeatureWeights: (b, k) => featureWeights(b, k, keptRows, l),
  };
}

/**
 * Lower-triangular L with L L^T = gram over the kept columns; a column whose pivot is negligible
 * (its sample lies in the span of the earlier ones) is left zero and not kept.
 */
function pivotedCholesky(gram: Float64Array, n: number): { factor: Float64Array; kept: number[] } {
  const l = new Float64Array(n * n);
  const kept: number[] = [];
  for (let j = 0; j < n; j++) {
    const rowJ = j * n;
    let pivot = gram[rowJ + j];
    for (let k = 0; k < j; k++) pivot -= l[rowJ + k] * l[rowJ + k];
    if (!(pivot > 1e-9 * Math.max(gram[rowJ + j], 1e-300))) continue;
    const diagonal = Math.sqrt(pivot);
    l[rowJ + j] = diagonal;
    for (let i = j + 1; i < n; i++) {
      const rowI = i * n;
      let s = gram[rowI + j];
      for (let k = 0; k < j; k++) s -= l[rowI + k] * l[rowJ + k];
      l[rowI + j] = s / diagonal;
    }
    kept.push(j);
  }
  return { factor: l, kept };
}

/** z = x x_kept^T L_kept^-T: each row's products with the kept samples, then forward substitution. */
function projectOnto(x: FeatureMatrix, keptRows: FeatureMatrix, l: Float64Array): FeatureMatrix {
  const { rows: m, cols: d } = x;
  const r = keptRows.rows;
  const out = rowProducts(x.data, m, keptRows.data, r, d);
  for (let i = 0; i < m; i++) {
    const o = i * r;
    for (let c = 0; c < r; c++) {
      let s = out[o + c];
      for (let e = 0; e < c; e++) s -= l[c * r + e] * out[o + e];
      out[o + c] = s / l[c * r + c];
    }
  }
  return { data: out, rows: m, cols: r };
}

/** W = x_kept^T L_kept^-T B: A = L_kept^-T B by back substitution, then W = x_kept^T A. */
function featureWeights(b: Float64Array, k: number, keptRows: FeatureMatrix, l: Float64Array): Float64Array {
  const { rows: r, cols: d } = keptRows;
  const a = new Float64Array(r * k);
  for (let c = r - 1; c >= 0; c--) {
    for (let j = 0; j < k; j++) {
      let s = b[c * k + j];
      for (let e = c + 1; e < r; e++) s -= l[e * r + c] * a[e * k + j];
      a[c * k + j] = s / l[c * r + c];
    }
  }
  const w = new Float64Array(d * k);
  for (let c = 0; c < r; c++) {
    const row = keptRows.data.subarray(c * d, (c + 1) * d);
    for (let j = 0; j < k; j++) {
      const coefficient = a[c * k + j];
      if (coefficient === 0) continue;
      for (let f = 0; f < d; f++) w[f * k + j] += row[f] * coefficient;
    }
  }
  return w;
}
