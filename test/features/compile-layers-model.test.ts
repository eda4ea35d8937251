import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { composeClassifier } from '../../src/export/compose-classifier';
import { loadExport } from '../../src/export/load-export';
import { compileLayersModel, paddingActsAsSame } from '../../src/features/compile-layers-model';
import { createFrozenRunner } from '../../src/features/frozen-runner';
import type { BaseModel } from '../../src/models/base-model';
import { buildFrozenPart } from '../../src/models/frozen-part';
import { saveModelToDir } from '../../src/models/model-files';
import { NsfwjsMobileNetSource } from '../../src/models/nsfwjs-mobilenet-source';
import { SharpImageDecoder } from '../../src/preprocess/sharp-image-decoder';
import { buildHead } from '../../src/train/head';
import { makeTempDir, removeTempDir } from '../helpers/images';

const samples = path.join(__dirname, '..', '..', '..', 'models', 'samples', 'fashion-mnist');

/** Real photos from the repository's Fashion-MNIST sample, decoded like training does, one per class. */
async function realImages(size: number, count: number): Promise<tf.Tensor4D> {
  const decoder = new SharpImageDecoder();
  const files = fs
    .readdirSync(samples)
    .filter((entry) => fs.statSync(path.join(samples, entry)).isDirectory())
    .sort()
    .map((label) => path.join(samples, label, fs.readdirSync(path.join(samples, label)).sort()[0]))
    .slice(0, count);
  const flat = new Float32Array(files.length * size * size * 3);
  for (const [i, file] of files.entries()) {
    const decoded = await decoder.decode(fs.readFileSync(file), { size, fit: 'cover', maxInputPixels: 1e8 });
    flat.set(decoded.data, i * size * size * 3);
  }
  return tf.tensor4d(flat, [files.length, size, size, 3]);
}

/** Largest difference relative to the largest activation of the reference. */
function relativeDifference(expected: tf.Tensor, actual: tf.Tensor): number {
  assert.deepEqual(actual.shape, expected.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(expected, actual))).dataSync()[0] / tf.max(tf.abs(expected)).dataSync()[0]);
}

function classCounts(model: tf.LayersModel, names: string[]): number {
  return model.layers.filter((layer) => names.includes(layer.getClassName())).length;
}

describe('compiled forward pass (compileLayersModel)', () => {
  let base: BaseModel;
  let pixels: tf.Tensor4D;

  before(async () => {
    await tf.setBackend('wasm');
    base = await new NsfwjsMobileNetSource().load('mobilenet_v2');
    pixels = await realImages(224, 4);
  });
  after(() => {
    pixels.dispose();
    base.dispose();
  });

  it('agrees with the layers model within 1e-4 at every candidate cut of the default base (224, real images), with every batch norm folded', () => {
    for (const cut of base.candidateLayers) {
      const layers = createFrozenRunner(base, cut, 224, { pool: false, compiled: false });
      const compiled = createFrozenRunner(base, cut, 224, { pool: false });
      const [expected, actual] = [layers.run(pixels), compiled.run(pixels)];
      const difference = relativeDifference(expected, actual);
      assert.ok(difference < 1e-4, `${cut}: compiled differs by ${difference} (relative)`);
      tf.dispose([expected, actual]);
      compiled.dispose();

      const { summary, dispose } = compileLayersModel(layers.model!);
      assert.equal(summary.foldedBatchNorms, classCounts(layers.model!, ['BatchNormalization']), `${cut}: every batch norm folded`);
      assert.equal(summary.mergedPaddings, classCounts(layers.model!, ['ZeroPadding2D']), `${cut}: every padding merged`);
      for (const name of ['BatchNormalization', 'ReLU', 'ZeroPadding2D', 'Conv2D', 'DepthwiseConv2D']) {
        assert.equal(summary.fallbackLayers[name], undefined, `${cut}: ${name} ran through its own apply`);
      }
      dispose();
    }
  });

  it('leaves the frozen statistics alone and frees exactly the weights it prepared', () => {
    const model = buildFrozenPart(base, 'block_6_expand_relu', 224);
    const statistics = () => model.layers.filter((l) => l.getClassName() === 'BatchNormalization').flatMap((l) => l.getWeights().map((w) => {
      const data = w.dataSync();
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
    }));
    const before = statistics();
    const tensorsBefore = tf.memory().numTensors;
    const compiled = compileLayersModel(model);
    tf.tidy(() => {
      compiled.run(pixels);
    });
    assert.ok(tf.memory().numTensors > tensorsBefore, 'the prepared weights are held');
    compiled.dispose();
    assert.equal(tf.memory().numTensors, tensorsBefore, 'dispose frees every prepared tensor, and a run leaves none behind');
    assert.deepEqual(statistics(), before);
    assert.throws(() => compiled.run(pixels), /disposed/);
  });

  it('rejects an input of another size, as predict does (convolutions alone would run on it)', () => {
    const model = buildFrozenPart(base, 'block_3_expand_relu', 64);
    const compiled = compileLayersModel(model);
    assert.throws(() => tf.tidy(() => compiled.run(pixels)), /expects an input of shape \[any,64,64,3\] but got one of shape \[4,224,224,3\]/);
    compiled.dispose();
  });

  it('a fine-tuned export (changed top blocks and head, reloaded from disk) predicts the same compiled or not', async () => {
    const dir = makeTempDir();
    try {
      if (base.network.kind !== 'layers') throw new Error('expected a LayersModel');
      const network = base.network.model;
      const frozen = buildFrozenPart(base, 'block_12_add', 96);
      const head = buildHead({ numFeatures: 1280, numClasses: 3, seed: 5 });
      const model = composeClassifier(frozen, head, { base: network, from: 'block_12_add', until: 'out_relu' });
      // What fine-tuning changes: the top blocks' weights (statistics too when batch norm trains).
      const topWeights = network.layers.filter((l) => /^(block_1[3-6]|Conv_1)/.test(l.name));
      const saved = topWeights.map((layer) => layer.getWeights().map((w) => w.clone()));
      topWeights.forEach((layer, i) => layer.setWeights(saved[i].map((w, j) => tf.tidy(() => tf.mul(w, tf.add(1, tf.randomNormal(w.shape, 0, 0.1, 'float32', i * 7 + j)))))));
      await saveModelToDir(model, dir);
      fs.writeFileSync(path.join(dir, 'labels.txt'), 'a\nb\nc\n');
      fs.writeFileSync(path.join(dir, 'metadata.json'), '{}');
      topWeights.forEach((layer, i) => {
        layer.setWeights(saved[i]);
        tf.dispose(saved[i]);
      });
      const images = await realImages(96, 6);
      const reference = await loadExport(dir, { compiled: false });
      const compiled = await loadExport(dir);
      const [expected, actual] = tf.tidy(() => [reference.predict(images), compiled.predict(images)]);
      const difference = relativeDifference(expected, actual);
      assert.ok(difference < 1e-4, `export: compiled differs by ${difference}`);
      tf.dispose([expected, actual, images]);
      reference.dispose();
      compiled.dispose();
    } finally {
      removeTempDir(dir);
    }
  });
});

describe('compileLayersModel on any LayersModel', () => {
  before(async () => {
    await tf.setBackend('wasm');
  });

  /** Batch norm with non-trivial statistics, so that folding it wrongly shows. */
  function batchNorm(name: string): tf.layers.Layer {
    return tf.layers.batchNormalization({
      name,
      epsilon: 1e-3,
      gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 2, seed: 1 }),
      betaInitializer: tf.initializers.randomNormal({ seed: 2 }),
      movingMeanInitializer: tf.initializers.randomNormal({ seed: 3 }),
      movingVarianceInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 3, seed: 4 }),
    });
  }

  /** A local network with layers the compiler fuses and layers it must fall back on. */
  function localNetwork(size: number, pad: [[number, number], [number, number]]): tf.LayersModel {
    const input = tf.input({ shape: [size, size, 3] });
    const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
    let x = apply(tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false }), input);
    x = apply(batchNorm('bn_1'), x);
    x = apply(tf.layers.reLU({ maxValue: 6 }), x);
    const padded = apply(tf.layers.zeroPadding2d({ padding: pad }), x);
    let y = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid', depthMultiplier: 2 }), padded);
    y = apply(batchNorm('bn_2'), y);
    y = apply(tf.layers.activation({ activation: 'relu' }), y);
    const z = apply(tf.layers.conv2d({ filters: 16, kernelSize: 1, activation: 'relu' }), y);
    // A convolution read by two layers, and a batch norm after an add: their batch norms stay as they are.
    const w = apply(tf.layers.conv2d({ filters: 16, kernelSize: 1 }), y);
    const normalized = apply(batchNorm('bn_3'), w);
    let sum = apply(tf.layers.add(), [z, normalized, apply(tf.layers.activation({ activation: 'tanh' }), w)]);
    sum = apply(batchNorm('bn_4'), sum);
    sum = apply(tf.layers.maxPooling2d({ poolSize: 2 }), sum);
    const pooled = apply(tf.layers.globalAveragePooling2d({}), sum);
    const dropped = apply(tf.layers.dropout({ rate: 0.5 }), pooled);
    return tf.model({ inputs: input, outputs: apply(tf.layers.dense({ units: 4, activation: 'softmax' }), dropped) });
  }

  for (const [size, pad, merged] of [
    [16, [[0, 1], [0, 1]], 'as same'],
    [15, [[0, 1], [0, 1]], 'explicitly (odd size: same would pad differently)'],
    [16, [[1, 1], [1, 1]], 'explicitly (same would pad after only)'],
    [17, [[1, 1], [1, 1]], 'as same'],
  ] as const) {
    it(`agrees with predict at ${size}x${size} with padding ${JSON.stringify(pad)} merged ${merged}, other layers falling back`, () => {
      const model = localNetwork(size, pad as [[number, number], [number, number]]);
      const compiled = compileLayersModel(model);
      const input = tf.randomUniform([3, size, size, 3], -1, 1, 'float32', size);
      const [expected, actual] = tf.tidy(() => [model.predict(input) as tf.Tensor, compiled.run(input) as tf.Tensor]);
      const difference = relativeDifference(expected, actual);
      assert.ok(difference < 1e-5, `differs by ${difference}`);
      assert.equal(compiled.summary.fusedConvolutions, 4);
      assert.equal(compiled.summary.foldedBatchNorms, 2);
      assert.equal(compiled.summary.mergedPaddings, 1);
      assert.deepEqual(compiled.summary.fallbackLayers, { BatchNormalization: 2, Activation: 1, Add: 1, MaxPooling2D: 1, GlobalAveragePooling2D: 1, Dropout: 1, Dense: 1 });
      tf.dispose([expected, actual, input]);
      compiled.dispose();
      model.dispose();
    });
  }

  it("tells when explicit padding is TensorFlow's 'same'", () => {
    assert.equal(paddingActsAsSame(224, 3, 2, 1, 0, 1), true);
    assert.equal(paddingActsAsSame(225, 3, 2, 1, 0, 1), false); // same pads 1 before at odd sizes
    assert.equal(paddingActsAsSame(225, 3, 2, 1, 1, 1), true);
    assert.equal(paddingActsAsSame(224, 3, 1, 1, 1, 1), true);
    assert.equal(paddingActsAsSame(224, 3, 2, 1, 1, 1), false);
    assert.equal(paddingActsAsSame(20, 3, 1, 2, 2, 2), true); // dilated: span 5
  });
});
