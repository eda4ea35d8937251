import { seededRandom } from './seeded-random';

/**
 * A random [rows, cols] matrix with orthonormal columns (rows >= cols) or orthonormal rows (rows < cols):
 * Gram-Schmidt (twice, for float accuracy) on a seeded Gaussian matrix, as Saxe et al.'s orthogonal
 * initialization. Row-major Float32Array.
 */
export function orthogonalMatrix(rows: number, cols: number, seed: number, gain = 1): Float32Array {
  const tall = rows >= cols;
  const length = tall ? rows : cols;
  const count = tall ? cols : rows;
  const random = seededRandom(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const vectors = Array.from({ length: count }, () => Float64Array.from({ length }, gaussian));
  for (let i = 0; i < count; i++) {
    const v = vectors[i];
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < i; j++) {
        const u = vectors[j];
        let dot = 0;
        for (let k = 0; k < length; k++) dot += u[k] * v[k];
        for (let k = 0; k < length; k++) v[k] -= dot * u[k];
      }
    }
    const norm = Math.sqrt(v.reduce((sum, x) => sum + x * x, 0));
    for (let k = 0; k < length; k++) v[k] /= norm;
  }
  const matrix = new Float32Array(rows * cols);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < length; k++) {
      if (tall) matrix[k * cols + i] = gain * vectors[i][k];
      else matrix[i * cols + k] = gain * vectors[i][k];
    }
  }
  return matrix;
}
