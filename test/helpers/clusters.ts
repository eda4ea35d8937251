import type { FeatureMatrix } from '../../src/select/logistic-regression';
import { seededRandom } from '../../src/train/seeded-random';

/** A standard normal draw (Box-Muller) from a uniform generator. */
export function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** n samples of d features; class k has its own mean (spread `separation`) plus unit noise times `noise`. */
export function clusters(n: number, d: number, K: number, separation: number, noise: number, seed: number): { features: Float32Array[]; labels: number[] } {
  const random = seededRandom(seed);
  const means = Array.from({ length: K }, () => Array.from({ length: d }, () => gaussian(random) * separation));
  const features: Float32Array[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % K;
    labels.push(k);
    features.push(Float32Array.from(means[k], (m) => m + noise * gaussian(random)));
  }
  return { features, labels };
}

/** Rows of features as one row-major float64 matrix (what the logistic regression reads). */
export function matrixOf(features: Float32Array[]): FeatureMatrix {
  const cols = features[0].length;
  const data = new Float64Array(features.length * cols);
  features.forEach((row, i) => data.set(row, i * cols));
  return { data, rows: features.length, cols };
}
