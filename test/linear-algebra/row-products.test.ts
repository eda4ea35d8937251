import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gramOfRows, rowProducts } from '../../src/linear-algebra/row-products';

const matrix = (rows: number, cols: number, seed: number) => Float64Array.from({ length: rows * cols }, (_, i) => Math.sin(seed * 3.7 + i * 0.91));

function naive(a: Float64Array, aRows: number, b: Float64Array, bRows: number, length: number): Float64Array {
  const out = new Float64Array(aRows * bRows);
  for (let i = 0; i < aRows; i++) for (let j = 0; j < bRows; j++) for (let t = 0; t < length; t++) out[i * bRows + j] += a[i * length + t] * b[j * length + t];
  return out;
}

const close = (actual: Float64Array, expected: Float64Array) => {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-12, `entry ${i}: ${v} vs ${expected[i]}`));
};

describe('rowProducts', () => {
  // Sizes that leave partial blocks of rows (4) and columns (2) on both sides.
  for (const [aRows, bRows, length] of [[9, 5, 7], [4, 2, 3], [1, 1, 1], [3, 7, 11]]) {
    it(`is a b^T for ${aRows} x ${length} times (${bRows} x ${length})^T`, () => {
      const a = matrix(aRows, length, 1);
      const b = matrix(bRows, length, 2);
      close(rowProducts(a, aRows, b, bRows, length), naive(a, aRows, b, bRows, length));
    });
  }

  it('gives the Gram matrix, symmetric, for a number of rows that is not a multiple of the block', () => {
    const x = matrix(11, 6, 3);
    const gram = gramOfRows(x, 11, 6);
    close(gram, naive(x, 11, x, 11, 6));
    for (let i = 0; i < 11; i++) for (let j = 0; j < 11; j++) assert.equal(gram[i * 11 + j], gram[j * 11 + i]);
  });

  it('skips only columns outside each row’s extent, which are zero', () => {
    const rows = 10;
    const length = 8;
    const from = Int32Array.from({ length: rows }, (_, i) => i % 3);
    const to = Int32Array.from({ length: rows }, (_, i) => Math.min(length, 3 + (i % 6)));
    const a = matrix(rows, length, 4);
    for (let i = 0; i < rows; i++) for (let t = 0; t < length; t++) if (t < from[i] || t >= to[i]) a[i * length + t] = 0;
    const b = matrix(5, length, 5);
    close(rowProducts(a, rows, b, 5, length, { from, to }), naive(a, rows, b, 5, length));
  });

  it('reads nothing past a row’s extent (values there would change the result)', () => {
    const a = Float64Array.from([1, 2, 99, 3, 4, 99]);
    const b = Float64Array.from([1, 1, 1]);
    const out = rowProducts(a, 2, b, 1, 3, { to: Int32Array.from([2, 2]) });
    assert.deepEqual([...out], [3, 7]);
  });
});
