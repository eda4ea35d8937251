import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { predictInBatches } from '../../src/train/predict-in-batches';

describe('predictInBatches', () => {
  it('gives the probabilities of every example in order, over batches, leaving no tensor behind', async () => {
    const x = tf.tensor2d([[1, 0], [0, 1], [2, 0], [0, 3], [1, 1]]);
    try {
      const before = tf.memory().numTensors;
      const { values, numClasses } = await predictInBatches((batch) => tf.softmax(batch) as tf.Tensor2D, x, 2);
      assert.equal(tf.memory().numTensors, before);
      assert.equal(numClasses, 2);
      const expected = tf.tidy(() => tf.softmax(x).dataSync());
      assert.deepEqual([...values], [...expected]);
    } finally {
      x.dispose();
    }
  });
});
