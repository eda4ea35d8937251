import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { float16Bits, quantizeWeights } from '../../src/export/quantize-weights';

function weights(): { specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer; values: Float32Array[] } {
  const kernel = Float32Array.from({ length: 48 }, (_, i) => Math.sin(i) * (i % 5 === 0 ? 3 : 0.05));
  const variance = Float32Array.from([1e-4, 2e-3, 45, 0.7]);
  const steps = Int32Array.from([7, -3]);
  const data = new Uint8Array(kernel.byteLength + variance.byteLength + steps.byteLength);
  data.set(new Uint8Array(kernel.buffer), 0);
  data.set(new Uint8Array(variance.buffer), kernel.byteLength);
  data.set(new Uint8Array(steps.buffer), kernel.byteLength + variance.byteLength);
  return {
    specs: [
      { name: 'conv/kernel', shape: [2, 2, 3, 4], dtype: 'float32' },
      { name: 'bn/moving_variance', shape: [4], dtype: 'float32' },
      { name: 'steps', shape: [2], dtype: 'int32' },
    ],
    data: data.buffer,
    values: [kernel, variance],
  };
}

describe('quantizeWeights', () => {
  it('encodes IEEE half precision, rounding to nearest even', () => {
    assert.equal(float16Bits(0), 0x0000);
    assert.equal(float16Bits(-0), 0x8000);
    assert.equal(float16Bits(1), 0x3c00);
    assert.equal(float16Bits(-2), 0xc000);
    assert.equal(float16Bits(65504), 0x7bff);
    assert.equal(float16Bits(1e6), 0x7c00, 'overflow is infinity');
    assert.equal(float16Bits(2 ** -24), 0x0001, 'smallest subnormal');
    assert.equal(float16Bits(2 ** -26), 0x0000, 'underflow is zero');
    assert.equal(float16Bits(1 + 2 ** -11), 0x3c00, 'a tie rounds to even');
    assert.equal(float16Bits(1 + 3 * 2 ** -11), 0x3c02, 'a tie rounds to even, upwards');
    assert.equal(float16Bits(Number.NaN) & 0x7c00, 0x7c00);
  });

  it('float16: half the bytes, and tfjs decodes the values back within half precision', () => {
    const { specs, data, values } = weights();
    const quantized = quantizeWeights(specs, data, 'float16');
    assert.equal(quantized.data.byteLength, (48 + 4) * 2 + 2 * 4);
    assert.deepEqual(quantized.specs[0].quantization, { dtype: 'float16' });
    const decoded = tf.io.decodeWeights(quantized.data, quantized.specs);
    try {
      values.forEach((original, w) => {
        const back = decoded[specs[w].name].dataSync();
        original.forEach((v, i) => assert.ok(Math.abs(back[i] - v) <= Math.abs(v) * 2 ** -10 + 1e-7, `${specs[w].name}[${i}] ${v} -> ${back[i]}`));
      });
      assert.deepEqual(Array.from(decoded.steps.dataSync()), [7, -3], 'int32 weights are copied');
    } finally {
      Object.values(decoded).forEach((t) => t.dispose());
    }
  });

  it('uint8: kernels take a quarter of the bytes with an affine range that holds 0 exactly; vectors stay float32', () => {
    const { specs, data, values } = weights();
    const quantized = quantizeWeights(specs, data, 'uint8');
    assert.equal(quantized.data.byteLength, 48 + 4 * 4 + 2 * 4);
    const { quantization } = quantized.specs[0];
    assert.equal(quantization?.dtype, 'uint8');
    assert.equal(quantized.specs[1].quantization, undefined, 'moving variance keeps float32');
    const decoded = tf.io.decodeWeights(quantized.data, quantized.specs);
    try {
      const kernel = decoded['conv/kernel'].dataSync();
      const step = quantization!.scale!;
      values[0].forEach((v, i) => assert.ok(Math.abs(kernel[i] - v) <= step / 2 + 1e-6, `kernel[${i}] ${v} -> ${kernel[i]}`));
      assert.equal(kernel[0], 0, 'sin(0) = 0 decodes to exactly 0');
      assert.deepEqual(Array.from(decoded['bn/moving_variance'].dataSync()), Array.from(values[1]));
    } finally {
      Object.values(decoded).forEach((t) => t.dispose());
    }
  });

  it('keeps weights that are quantized already as they are', () => {
    const { specs, data } = weights();
    const once = quantizeWeights(specs, data, 'float16');
    const twice = quantizeWeights(once.specs, once.data, 'uint8');
    assert.deepEqual(twice.specs, once.specs);
    assert.ok(Buffer.from(twice.data).equals(Buffer.from(once.data)));
  });
});
