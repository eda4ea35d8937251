import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createFrozenRunner } from '../../src/features/frozen-runner';
import type { BaseModel } from '../../src/models/base-model';
import { NsfwjsMobileNetSource } from '../../src/models/nsfwjs-mobilenet-source';

function batchNormStatistics(model: tf.LayersModel): Float32Array[] {
  return model.layers
    .filter((layer) => layer.getClassName() === 'BatchNormalization')
    .flatMap((layer) => layer.getWeights().slice(-2).map((w) => w.dataSync() as Float32Array));
}

describe('frozen part', () => {
  let base: BaseModel;
  let model: tf.LayersModel;

  before(async () => {
    await tf.setBackend('wasm');
    base = await new NsfwjsMobileNetSource().load('mobilenet_v2');
    if (base.network.kind !== 'layers') throw new Error('expected a LayersModel');
    model = base.network.model;
  });
  after(() => base.dispose());

  it('runs in inference mode: batch-norm moving statistics do not move', () => {
    const before = batchNormStatistics(model).map((a) => a.slice());
    const runner = createFrozenRunner(base, 'block_3_expand_relu', 64);
    const pixels = tf.randomUniform([4, 64, 64, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
    const features = runner.run(pixels);
    assert.deepEqual(features.shape, [4, 144]);
    features.dispose();
    const afterRun = batchNormStatistics(model);
    before.forEach((stat, i) => assert.ok(Buffer.from(stat.buffer).equals(Buffer.from(afterRun[i].buffer)), `statistic ${i} moved`));

    // Control: tfjs in training mode overwrites frozen statistics (ENVIRONMENT.md), so the check above can fail.
    tf.tidy(() => {
      runner.model!.apply(pixels, { training: true });
    });
    const trained = batchNormStatistics(model);
    assert.ok(before.some((stat, i) => !Buffer.from(stat.buffer).equals(Buffer.from(trained[i].buffer))), 'control: training mode changes statistics');
    pixels.dispose();
  });

  it('grid pooling averages each quarter of the map (odd sides overlap in the middle), in the order the export flattens', () => {
    const pixels = tf.randomUniform([2, 96, 96, 3], 0, 255, 'float32', 3) as tf.Tensor4D;
    const map = createFrozenRunner(base, 'block_13_expand_relu', 96, { pool: false });
    const grid = createFrozenRunner(base, 'block_13_expand_relu', 96, { pooling: 'grid' });
    const [expected, actual] = tf.tidy(() => {
      const activation = map.run(pixels); // [2, 6, 6, 576]
      const quarter = (top: number, left: number) => tf.mean(tf.slice(activation, [0, top, left, 0], [-1, 3, 3, -1]), [1, 2]);
      return [tf.concat([quarter(0, 0), quarter(0, 3), quarter(3, 0), quarter(3, 3)], 1), grid.run(pixels)];
    });
    assert.deepEqual(grid.featureShape, [4 * 576]);
    assert.deepEqual(actual.shape, [2, 4 * 576]);
    const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(expected, actual))).dataSync()[0]);
    assert.ok(difference < 1e-5, `grid pooling differs from the quarter means by ${difference}`);
    tf.dispose([expected, actual, pixels]);
  });

  it('grid pooling refuses a map smaller than 2x2 and says what to change', () => {
    assert.throws(() => createFrozenRunner(base, 'out_relu', 32, { pooling: 'grid' }), /1x1 feature map at out_relu: grid pooling needs at least 2x2\. Use a larger --image-size, or --pooling average/);
  });
});
