import * as tf from '@tensorflow/tfjs';

/**
 * Inference-mode probabilities of every example, [examples x classes] row-major, computed in
 * batches so that activations never pile up; no tensor outlives a batch.
 */
export async function predictInBatches(predict: (x: tf.Tensor) => tf.Tensor2D, x: tf.Tensor, batchSize = 256): Promise<{ values: Float32Array; numClasses: number }> {
  const n = x.shape[0];
  const rows: Float32Array[] = [];
  let numClasses = 0;
  for (let start = 0; start < n; start += batchSize) {
    const probabilities = tf.tidy(() => predict(tf.slice(x, start, Math.min(batchSize, n - start))));
    try {
      numClasses = probabilities.shape[1];
      rows.push((await probabilities.data()) as Float32Array);
    } finally {
      probabilities.dispose();
    }
  }
  const values = new Float32Array(rows.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of rows) {
    values.set(part, offset);
    offset += part.length;
  }
  return { values, numClasses };
}
