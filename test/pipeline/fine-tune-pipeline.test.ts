import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadExport } from '../../src/export/load-export';
import { NsfwjsMobileNetSource } from '../../src/models/nsfwjs-mobilenet-source';
import { TrainPipeline } from '../../src/pipeline/train-pipeline';
import { testConfig, testContainer } from '../helpers/pipeline';
import { copySample } from '../helpers/sample-data';
import { TrainingInterrupted } from '../../src/errors';
import { silentLogger } from '../../src/logger';

function bits(weight: tf.LayerVariable): Buffer {
  return Buffer.from((weight.read().dataSync() as Float32Array).buffer);
}

describe('train --policy top', () => {
  it('fine-tunes the top blocks below an untouched boundary; a phase that does not beat the head-only model leaves the export head-only, bit for bit', async () => {
    const data = copySample({ classes: 2, perClass: 10 });
    // A small input keeps the test quick; the boundary activation is then 6x6x96.
    const config = testConfig({ policy: 'top', 'top-blocks': '2', 'image-size': '96', epochs: '3', 'fine-tune-epochs': '2', name: 'top' });
    const result = await testContainer(config).get(TrainPipeline).run(data);
    assert.equal(result.plan.policy, 'top');
    assert.equal(result.plan.cutLayer, 'block_14_add');
    const metadata = JSON.parse(fs.readFileSync(path.join(result.exportDir, 'metadata.json'), 'utf8'));
    assert.deepEqual(metadata.training.phases.map((p: { name: string }) => p.name), ['head', 'fine-tune']);
    // Four validation images: fine-tuning can at best tie with the head-only model, which is not more than the noise.
    const gate = result.plan.fineTune!.gate!;
    assert.equal(gate.kept, false, gate.reason);
    assert.deepEqual(metadata.plan.fineTune.gate, gate);
    assert.ok(result.plan.reasons.includes(gate.reason));
    assert.ok(result.timings.train_img_per_s > 0);
    // The report reviews the validation images with the fine-tuned network: its confusion matrix agrees with the measured accuracy.
    const report = JSON.parse(fs.readFileSync(path.join(result.runDir, 'report-data.json'), 'utf8'));
    assert.equal(result.reportPath, path.join(result.runDir, 'report.html'));
    assert.deepEqual([...new Set(report.epochs.map((e: { phase: string }) => e.phase))], ['head', 'fine-tune']);
    const correct = report.validation.confusion.reduce((sum: number, row: number[], k: number) => sum + row[k], 0);
    assert.ok(Math.abs(correct / report.validation.n - result.metrics.val.accuracy) < 1e-9);

    const base = await new NsfwjsMobileNetSource().load('mobilenet_v2');
    const exported = await loadExport(result.exportDir);
    try {
      const original = new Map((base.network as { model: tf.LayersModel }).model.weights.map((w) => [w.originalName, w]));
      const trainable = new Set(result.plan.trainableLayers);
      let frozenCompared = 0;
      let movingCompared = 0;
      let trainableCompared = 0;
      for (const layer of (exported.model as tf.LayersModel).layers) {
        for (const weight of layer.weights) {
          const before = original.get(weight.originalName);
          if (!before) continue;
          const same = bits(before).equals(bits(weight));
          if (/moving_(mean|variance)/.test(weight.originalName)) {
            assert.ok(same, `${weight.originalName}: batch norm statistics must not move`);
            movingCompared += 1;
          } else if (trainable.has(layer.name)) {
            assert.ok(same, `${weight.originalName}: the fine-tuning phase was dropped, so the export holds the pretrained weights`);
            trainableCompared += 1;
          } else {
            assert.ok(same, `${weight.originalName} is frozen but changed`);
            frozenCompared += 1;
          }
        }
      }
      assert.ok(frozenCompared > 100, `${frozenCompared} frozen weights compared`);
      assert.ok(movingCompared > 50, `${movingCompared} moving statistics compared`);
      assert.ok(trainableCompared > 5, `${trainableCompared} weights of the fine-tuned blocks compared`);
    } finally {
      exported.dispose();
      base.dispose();
    }
  });

  it('an interrupted fine-tuning phase resumes from its checkpoint and ends where the uninterrupted run ends', async () => {
    const data = copySample({ classes: 2, perClass: 10 });
    const flags = { policy: 'top', 'top-blocks': '2', 'image-size': '96', epochs: '3', 'fine-tune-epochs': '3', name: 'top' };
    const whole = await testContainer(testConfig(flags)).get(TrainPipeline).run(data);

    const config = testConfig(flags);
    const interrupt = new AbortController();
    // Ctrl-C as soon as the first fine-tuning epoch is reported.
    const logger = { ...silentLogger, info: (message: string) => message.startsWith('fine-tune epoch 1/') && interrupt.abort() };
    await assert.rejects(testContainer(config, logger).get(TrainPipeline).run(data, undefined, { signal: interrupt.signal }), (error: Error) => {
      assert.ok(error instanceof TrainingInterrupted, String(error));
      assert.match(error.message, /during epoch 2; the checkpoint after epoch 1 is in .*fine-tune\.ckpt\. Resume with: finetune train --resume \S+ --runs-dir /);
      return true;
    });
    const runId = fs.readdirSync(config.runs.dir)[0];
    assert.deepEqual(fs.readdirSync(path.join(config.runs.dir, runId, 'checkpoint')).sort(), ['fine-tune.ckpt', 'head.ckpt']);

    const resumed = await testContainer(config).get(TrainPipeline).run(data, undefined, { resume: runId });
    assert.equal(resumed.training.resumed, true);
    const weights = async (dir: string) => {
      const model = await loadExport(dir);
      try {
        return (model.model as tf.LayersModel).getWeights().map((w) => Array.from(w.dataSync()));
      } finally {
        model.dispose();
      }
    };
    const [a, b] = [await weights(whole.exportDir), await weights(resumed.exportDir)];
    let largest = 0;
    a.forEach((list, w) => list.forEach((v, i) => (largest = Math.max(largest, Math.abs(v - b[w][i])))));
    assert.ok(largest <= 1e-6, `exported weights differ by up to ${largest}`);
    assert.ok(Math.abs(resumed.metrics.val.loss - whole.metrics.val.loss) <= 1e-6);
  });
});
