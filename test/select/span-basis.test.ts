import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FeatureMatrix } from '../../src/select/logistic-regression';
import { spanBasis } from '../../src/select/span-basis';
import { seededRandom } from '../../src/train/seeded-random';

function matrix(rows: number, cols: number, seed: number): FeatureMatrix {
  const random = seededRandom(seed);
  return { data: Float64Array.from({ length: rows * cols }, () => random() - 0.5), rows, cols };
}

/** a (m x inner) times b (inner x k), row-major. */
function times(a: FeatureMatrix, b: Float64Array, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let c = 0; c < a.cols; c++) s += a.data[i * a.cols + c] * b[c * k + j];
      out.push(s);
    }
  }
  return out;
}

const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) < 1e-9);

describe('spanBasis', () => {
  it('gives products with feature weights W = QB equal to the coordinates times B, for the samples and for rows projected onto the span', () => {
    const x = matrix(6, 15, 1);
    x.data.copyWithin(15 * 5, 0, 15); // the last sample repeats the first: the basis drops it
    const basis = spanBasis(x);
    assert.equal(basis.coordinates.cols, 5);
    const b = matrix(5, 3, 2).data;
    const w = basis.toFeatureWeights(b, 3);
    assert.ok(close(times(x, w, 3), times(basis.coordinates, b, 3)));
    // A row outside the span: its coordinates give the product with any W in the span.
    const other = matrix(2, 15, 3);
    assert.ok(close(times(other, w, 3), times(basis.project(other), b, 3)));
    // The samples' own coordinates are their projection, and the factor is lower triangular.
    assert.ok(close(Array.from(basis.project(x).data), Array.from(basis.coordinates.data)));
    for (let i = 0; i < 6; i++) for (let c = basis.leading[i]; c < 5; c++) assert.equal(basis.coordinates.data[i * 5 + c], 0);
  });

  it('is the identity with at least as many samples as features', () => {
    const x = matrix(8, 4, 4);
    const basis = spanBasis(x);
    assert.equal(basis.coordinates, x);
    assert.equal(basis.project(x), x);
  });
});
