import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { RuntimeFailure } from '../../src/errors';
import { listVersions } from '../../src/export/write-export';
import { BaseModelSource } from '../../src/models/base-model';
import { ClassifyPipeline } from '../../src/pipeline/classify-pipeline';
import { TrainPipeline, type TrainResult } from '../../src/pipeline/train-pipeline';
import { loadFixtureGraphBase } from '../helpers/graph-fixture';
import { testConfig, testContainer } from '../helpers/pipeline';
import { copySample } from '../helpers/sample-data';

const small = { epochs: '6', patience: '6', 'image-size': '96' };
const weightBytes = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.bin')).reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);

/** tf.loadLayersModel on the files alone, as any TensorFlow.js program would load them. */
async function plainLoad(dir: string): Promise<tf.LayersModel> {
  const modelJson = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const weightData = new Uint8Array(Buffer.concat(modelJson.weightsManifest[0].paths.map((p: string) => fs.readFileSync(path.join(dir, p))))).buffer;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest[0].weights, weightData }));
}

describe('export options', () => {
  let data: string;
  let images: string[];
  let float32: TrainResult;
  const trained: Record<string, TrainResult> = {};

  before(async () => {
    data = copySample({ classes: 3, perClass: 12 });
    images = fs.readdirSync(data).map((label) => path.join(data, label, fs.readdirSync(path.join(data, label)).sort()[0]));
    const config = testConfig({ ...small, name: 'plain' });
    float32 = await testContainer(config).get(TrainPipeline).run(data);
    for (const dtype of ['float16', 'uint8'] as const) {
      trained[dtype] = await testContainer({ ...config, export: { ...config.export, name: dtype, quantize: dtype } }).get(TrainPipeline).run(data);
    }
  });

  for (const [dtype, ratio, tolerance] of [
    ['float16', 0.5, 0.02],
    ['uint8', 0.35, 0.3],
  ] as const) {
    it(`--quantize ${dtype} shrinks the weights, reports size and accuracy change, and predicts close to float32`, async () => {
      const result = trained[dtype];
      assert.ok(weightBytes(result.exportDir) <= weightBytes(float32.exportDir) * ratio + 1, `${weightBytes(result.exportDir)} vs ${weightBytes(float32.exportDir)}`);
      const q = result.quantization!;
      assert.equal(q.dtype, dtype);
      assert.equal(q.bytes.float32, weightBytes(float32.exportDir));
      assert.equal(q.bytes.quantized, weightBytes(result.exportDir));
      assert.equal(q.accuracy.n, result.metrics.val.n);
      assert.equal(q.accuracy.float32, result.metrics.val.accuracy);
      assert.ok(Math.abs(q.accuracy.change - (q.accuracy.quantized - q.accuracy.float32)) < 1e-12);
      const metadata = JSON.parse(fs.readFileSync(path.join(result.exportDir, 'metadata.json'), 'utf8'));
      assert.deepEqual(metadata.quantization, q);

      const classify = testContainer(testConfig()).get(ClassifyPipeline);
      const byLabel = (predictions: { label: string; probability: number }[]) => Object.fromEntries(predictions.map((p) => [p.label, p.probability]));
      const reference = await classify.predict(float32.exportDir, images, 3);
      const quantized = await classify.predict(result.exportDir, images, 3);
      quantized.forEach((q2, i) => {
        const a = byLabel(reference[i].predictions);
        const b = byLabel(q2.predictions);
        for (const label of Object.keys(a)) assert.ok(Math.abs(a[label] - b[label]) < tolerance, `${images[i]} ${label}: ${a[label]} vs ${b[label]}`);
      });

      const model = await plainLoad(result.exportDir);
      try {
        const output = tf.tidy(() => (model.predict(tf.zeros([1, 96, 96, 3])) as tf.Tensor).dataSync());
        assert.equal(output.length, 3);
      } finally {
        model.dispose();
      }
    });
  }

  it('--quantize float16 on a GraphModel base: the export loads with plain tf.loadGraphModel', async () => {
    const fixtureSource: BaseModelSource = { accepts: (id) => id === 'fixture-graph', load: (id) => loadFixtureGraphBase(id) };
    const config = testConfig({ base: 'fixture-graph', policy: 'head', epochs: '2', quantize: 'float16', name: 'graph-float16' });
    const container = testContainer(config);
    container.bind(BaseModelSource).toConstantValue(fixtureSource);
    const result = await container.get(TrainPipeline).run(copySample({ classes: 2, perClass: 6 }));
    assert.equal(result.quantization?.dtype, 'float16');
    // nsfwjs' graph base ships uint8 weights already: they are kept, the rest becomes float16.
    assert.ok(result.quantization!.bytes.quantized < result.quantization!.bytes.float32);
    const modelJson = JSON.parse(fs.readFileSync(path.join(result.exportDir, 'model.json'), 'utf8'));
    assert.equal(modelJson.format, 'graph-model');
    const specs: tf.io.WeightsManifestEntry[] = modelJson.weightsManifest[0].weights;
    assert.deepEqual(specs.filter((s) => s.dtype === 'float32' && !s.quantization), []);
    assert.ok(specs.some((s) => s.quantization?.dtype === 'float16'));
    assert.ok(specs.some((s) => s.quantization?.dtype === 'uint8'));
    const weightData = new Uint8Array(Buffer.concat(modelJson.weightsManifest[0].paths.map((p: string) => fs.readFileSync(path.join(result.exportDir, p))))).buffer;
    const model = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest[0].weights, weightData }));
    try {
      const row = tf.tidy(() => (model.predict(tf.fill([1, 224, 224, 3], 128)) as tf.Tensor).arraySync() as number[][])[0];
      assert.equal(row.length, 2);
      assert.ok(Math.abs(row[0] + row[1] - 1) < 1e-3);
    } finally {
      model.dispose();
    }
  });

  it('--min-accuracy refuses to export a model below it, writing nothing', async () => {
    // A head barely trained, and no baseline (which would beat it): a model below the gate.
    const config = testConfig({ ...small, epochs: '1', 'learning-rate': '0.000001', baseline: 'false', 'min-accuracy': '0.99', name: 'gated' });
    await assert.rejects(
      testContainer(config).get(TrainPipeline).run(data),
      (error: Error) => error instanceof RuntimeFailure && /validation accuracy is 0\.\d+ .* below export\.minAccuracy 0\.99; nothing was exported/.test(error.message),
    );
    const base = path.join(config.export.out, 'gated');
    assert.deepEqual(fs.existsSync(base) ? fs.readdirSync(base) : [], []);
    assert.deepEqual(listVersions(base), []);
  });
});
