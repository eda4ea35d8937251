import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { registerBatchNormGradient } from '../../src/backend/batch-norm-gradient';

/** The same normalization from primitive ops, whose gradients tfjs derives on its own. */
function reference(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, epsilon: number): tf.Tensor {
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), scale), tf.rsqrt(tf.add(variance, epsilon))), offset);
}

describe('FusedBatchNorm gradient', () => {
  before(async () => {
    await tf.setBackend('wasm');
    registerBatchNormGradient();
  });

  for (const shape of [[2, 5, 7, 3], [1, 3, 3, 17], [4, 6]] as const) {
    it(`matches the gradients of the primitive formula for every input, shape [${shape}]`, () => {
      const channels = shape[shape.length - 1];
      const x = tf.randomNormal([...shape], 0, 2, 'float32', 1);
      const mean = tf.randomNormal([channels], 0, 1, 'float32', 2);
      const variance = tf.randomUniform([channels], 0.1, 3, 'float32', 3);
      const scale = tf.randomNormal([channels], 1, 0.5, 'float32', 4);
      const offset = tf.randomNormal([channels], 0, 1, 'float32', 5);
      const weights = tf.randomNormal([...shape], 0, 1, 'float32', 6);
      const epsilon = 1e-3;
      const fused = tf.grads((a, b, c, d, e) => tf.sum(tf.mul(tf.batchNorm(a, b, c, e, d, epsilon), weights)));
      const primitive = tf.grads((a, b, c, d, e) => tf.sum(tf.mul(reference(a, b, c, d, e, epsilon), weights)));
      const ours = fused([x, mean, variance, scale, offset]);
      const expected = primitive([x, mean, variance, scale, offset]);
      ['x', 'mean', 'variance', 'scale', 'offset'].forEach((name, i) => {
        const error = tf.max(tf.abs(tf.sub(ours[i], expected[i]))).dataSync()[0];
        const size = tf.max(tf.abs(expected[i])).dataSync()[0];
        assert.ok(error <= 1e-4 * (1 + size), `${name}: max error ${error}`);
      });
      tf.dispose([x, mean, variance, scale, offset, weights, ...ours, ...expected]);
    });
  }

  it('no longer tiles the statistics over the activation', async () => {
    const x = tf.randomNormal([4, 8, 8, 16]);
    const stats = [tf.zeros([16]), tf.ones([16]), tf.ones([16]), tf.zeros([16])];
    const profile = await tf.profile(() => tf.grad((a: tf.Tensor) => tf.sum(tf.batchNorm(a, stats[0], stats[1], stats[3], stats[2], 1e-3)))(x));
    assert.ok(!profile.kernelNames.includes('Tile'), `kernels: ${profile.kernelNames.join(', ')}`);
    tf.dispose([x, ...stats]);
  });
});
