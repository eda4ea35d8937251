import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { loadExport } from '../../src/export/load-export';
import { NsfwjsMobileNetSource } from '../../src/models/nsfwjs-mobilenet-source';
import { ClassifyPipeline } from '../../src/pipeline/classify-pipeline';
import { TrainPipeline, type TrainResult } from '../../src/pipeline/train-pipeline';
import { testConfig, testContainer } from '../helpers/pipeline';
import { copySample } from '../helpers/sample-data';

const quick = { epochs: '6', patience: '6' };

describe('train pipeline on the embedded sample', () => {
  let data: string;
  let config: ReturnType<typeof testConfig>;
  let first: TrainResult;

  before(async () => {
    data = copySample({ classes: 3, perClass: 12 });
    config = testConfig({ ...quick, name: 'clothes' });
    first = await testContainer(config).get(TrainPipeline).run(data);
  });

  it('exports version 1 with model, labels and metadata, and reports the DESIGN.md keys', () => {
    assert.equal(first.exportDir, path.join(config.export.out, 'clothes', '1'));
    for (const file of ['model.json', 'group1-shard1of1.bin', 'labels.txt', 'metadata.json']) {
      assert.ok(fs.existsSync(path.join(first.exportDir, file)), file);
    }
    assert.deepEqual(fs.readFileSync(path.join(first.exportDir, 'labels.txt'), 'utf8').trim().split('\n'), first.labels);
    const metadata = JSON.parse(fs.readFileSync(path.join(first.exportDir, 'metadata.json'), 'utf8'));
    assert.deepEqual(metadata.input, { ...metadata.input, height: 224, width: 224, channels: 3, range: [0, 255] });
    assert.equal(metadata.base.id, 'mobilenet_v2');
    assert.match(metadata.base.sha256, /^[0-9a-f]{64}$/);
    assert.equal(metadata.plan.cutLayer, 'block_13_expand_relu');
    assert.equal(metadata.version, 1);
    assert.equal(first.backend.name, 'wasm');
    assert.ok(first.metrics.val.n > 0 && first.metrics.val.accuracy >= 0 && Number.isFinite(first.metrics.val.loss));
    for (const key of ['base_s', 'scan_s', 'extract_s', 'train_s', 'export_s', 'total_s']) assert.ok(first.timings[key] >= 0, key);
    assert.equal(first.features.fromCache, 0);
    assert.equal(first.features.computed, 36);
  });

  it('records the run: its config and one metrics line per epoch', () => {
    assert.equal(path.dirname(first.runDir), config.runs.dir);
    assert.equal(path.basename(first.runDir), first.runId);
    const recorded = JSON.parse(fs.readFileSync(path.join(first.runDir, 'config.json'), 'utf8'));
    assert.equal(recorded.train.epochs, 6);
    const lines = fs.readFileSync(path.join(first.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    assert.ok(lines.length >= 1 && lines.length <= 6);
    lines.forEach((line, i) => {
      assert.equal(line.phase, 'head');
      assert.equal(line.epoch, i);
      assert.ok(Number.isFinite(line.loss) && Number.isFinite(line.valLoss) && line.learningRate > 0);
    });
  });

  it('leaves every frozen weight and batch-norm statistic of the base bit-identical', async () => {
    const base = await new NsfwjsMobileNetSource().load('mobilenet_v2');
    const exported = await loadExport(first.exportDir);
    try {
      let compared = 0;
      let movingStatistics = 0;
      for (const layer of (exported.model as tf.LayersModel).layers) {
        const original = base.network.kind === 'layers' ? base.network.model.layers.find((l) => l.name === layer.name) : undefined;
        if (!original) continue;
        const before = original.weights;
        const after = layer.weights;
        assert.equal(after.length, before.length, layer.name);
        for (let i = 0; i < before.length; i++) {
          const a = Buffer.from((before[i].read().dataSync() as Float32Array).buffer);
          const b = Buffer.from((after[i].read().dataSync() as Float32Array).buffer);
          assert.ok(a.equals(b), `${before[i].name} changed`);
          compared += 1;
          if (/moving_(mean|variance)/.test(before[i].name)) movingStatistics += 1;
        }
      }
      assert.ok(compared > 100, `compared ${compared} weights`);
      assert.ok(movingStatistics > 50, `compared ${movingStatistics} moving statistics`);
    } finally {
      exported.dispose();
      base.dispose();
    }
  });

  it('classifies with the export as well as training measured, through evaluate', async () => {
    const evaluation = await testContainer(config).get(ClassifyPipeline).evaluate(first.exportDir, data);
    assert.equal(evaluation.n, 36);
    assert.deepEqual(evaluation.labels, first.labels);
    assert.equal(evaluation.confusion.flat().reduce((a, b) => a + b, 0), 36);
    assert.ok(evaluation.accuracy > 0.6, `accuracy ${evaluation.accuracy}`);
  });

  it('reuses cached features on a second run, writes version 2 and repeats the first run with the same seed', async () => {
    const second = await testContainer(config).get(TrainPipeline).run(data);
    assert.equal(second.features.computed, 0);
    assert.equal(second.features.fromCache, 36);
    assert.equal(second.version, 2);
    assert.ok(fs.existsSync(first.exportDir), 'version 1 is kept');
    const weights = (dir: string) => fs.readFileSync(path.join(dir, 'group1-shard1of1.bin'));
    assert.ok(weights(first.exportDir).equals(weights(second.exportDir)), 'same seed, same weights');
    assert.deepEqual(fs.readdirSync(path.dirname(first.exportDir)).sort(), ['1', '2']);
  });

  it('trains differently with another seed', async () => {
    // The trained head: the baseline, when it wins, does not depend on the seed.
    const run = (seed: number) => testContainer({ ...config, train: { ...config.train, seed, baseline: false } }).get(TrainPipeline).run(data);
    const [one, other] = [await run(1), await run(7)];
    const weights = (dir: string) => fs.readFileSync(path.join(dir, 'group1-shard1of1.bin'));
    assert.ok(!weights(one.exportDir).equals(weights(other.exportDir)));
  });

  it('refits an exported baseline on training and validation images, and reports the accuracy of the fit validation did not see', async () => {
    // A head barely trained loses to the baseline, which is then exported.
    const weak = { ...config.train, epochs: 1, learningRate: 0.00001 };
    const run = (refitBaseline: boolean) => testContainer({ ...config, train: { ...weak, refitBaseline } }).get(TrainPipeline).run(data);
    const [off, on] = [await run(false), await run(true)];
    assert.equal(on.plan.baseline?.winner, 'baseline', on.plan.baseline?.reason);
    assert.equal(off.plan.baseline?.refit, undefined);
    const refit = on.plan.baseline!.refit!;
    assert.deepEqual([refit.images, refit.trainingImages], [36, 36 - on.metrics.val.n]);
    assert.ok(on.plan.reasons.includes(refit.reason));
    assert.ok(on.timings.refit_s >= 0 && off.timings.refit_s === undefined, 'the refit is timed when it runs');
    assert.deepEqual(on.metrics.val, off.metrics.val, 'the validation accuracy of the fit on the training images');
    assert.deepEqual(Object.keys(on.metrics.val).sort(), ['accuracy', 'loss', 'n']);
    const metadata = JSON.parse(fs.readFileSync(path.join(on.exportDir, 'metadata.json'), 'utf8'));
    assert.equal(metadata.plan.baseline.refit.images, 36);
    const weights = (dir: string) => fs.readFileSync(path.join(dir, 'group1-shard1of1.bin'));
    assert.ok(!weights(on.exportDir).equals(weights(off.exportDir)), 'another model is exported');
  });

  it('does not leak tensors over a whole run', async () => {
    const container = testContainer(config);
    await container.get(TrainPipeline).run(data);
    const baseline = tf.memory().numTensors;
    await container.get(TrainPipeline).run(data);
    assert.equal(tf.memory().numTensors, baseline);
  });

  it('accepts a local LayersModel folder as the base, with its input contract', async () => {
    const local = await testContainer({
      ...config,
      base: { ...config.base, id: first.exportDir },
      policy: { ...config.policy, name: 'head' },
      export: { ...config.export, name: 'on-local-base' },
    })
      .get(TrainPipeline)
      .run(data);
    const metadata = JSON.parse(fs.readFileSync(path.join(local.exportDir, 'metadata.json'), 'utf8'));
    assert.deepEqual(metadata.base.inputRange, [0, 255]);
    assert.equal(metadata.base.source, path.resolve(first.exportDir));
    assert.equal(local.plan.policy, 'head');
    assert.equal(local.plan.cutLayer, 'block_13_expand_relu', 'the last feature map of a finetune export is its cut layer');
  });

  it('auto measures transferability at every candidate depth and puts the scores in the plan', async () => {
    const auto = await testContainer({ ...config, policy: { ...config.policy, name: 'auto' }, export: { ...config.export, name: 'auto' } })
      .get(TrainPipeline)
      .run(data);
    const scores = auto.plan.similarity.scores;
    assert.deepEqual(scores.map((s) => s.layer), ['block_3_expand_relu', 'block_6_expand_relu', 'block_10_expand_relu', 'block_13_expand_relu', 'block_16_expand_relu', 'out_relu']);
    assert.ok(scores.every((s) => Number.isFinite(s.score)));
    assert.equal(auto.plan.datasetSize.category, 'small');
    assert.ok(['similar', 'different'].includes(auto.plan.similarity.category));
    const best = scores.reduce((a, b) => (b.score > a.score ? b : a)).layer;
    assert.equal(auto.plan.cutLayer, auto.plan.similarity.category === 'different' ? best : 'out_relu');
    assert.ok(auto.timings.probe_s > 0);
    if (best !== 'out_relu') {
      const pooling = auto.plan.similarity.pooling!;
      assert.equal(pooling.layer, best, 'whole-image and grid pooling are compared at the best depth');
      assert.ok([pooling.average, pooling.grid].every((accuracy) => accuracy >= 0 && accuracy <= 1));
      assert.equal(auto.plan.pooling, 'average', 'classes of about 9 training images are too small for the grid');
    }
  });
});
