import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/logger';
import { HubMobileNetSource, parseHubMobileNetId } from '../../src/models/hub-mobilenet-source';
import { ioHandlerFor, readModelFiles } from '../../src/models/model-files';
import { RunPreparation } from '../../src/pipeline/prepare-run';
import { TrainPipeline } from '../../src/pipeline/train-pipeline';
import { hubMobileNetGraph, serveLoopbackHub, type LoopbackHub } from '../helpers/hub-graph-fixture';
import { testConfig, testContainer } from '../helpers/pipeline';
import { copySample, temporaryDir } from '../helpers/sample-data';

const hubId = 'mobilenet_v2_1.00';

function bits(weight: tf.LayerVariable): Buffer {
  return Buffer.from((weight.read().dataSync() as Float32Array).buffer);
}

/** Sentences of a plan with numbers and layer names blanked: what is said, not about which layer. */
function reasonTemplates(reasons: string[], layers: string[]): string[] {
  return reasons.map((reason) => layers.reduce((text, layer) => text.split(layer).join('<layer>'), reason).replace(/-?\d+(\.\d+)?/g, '<n>'));
}

describe('a TF Hub MobileNet base through the pipeline, served by a loopback TF Hub', () => {
  let hub: LoopbackHub;

  before(async () => {
    const fixture = hubMobileNetGraph({ version: 2, alpha: 1, seed: 21 });
    hub = await serveLoopbackHub(new Map([[parseHubMobileNetId(hubId)!.hubPath, fixture.files]]));
  });

  after(async () => {
    await hub.close();
  });

  it('train --policy top fine-tunes the twin, keeps frozen weights bit-identical, and exports a plain LayersModel', async () => {
    const data = copySample({ classes: 2, perClass: 10 });
    const cacheDir = temporaryDir('cache');
    const config = testConfig({
      base: hubId,
      'hub-url': hub.url,
      'cache-dir': cacheDir,
      policy: 'top',
      'top-blocks': '2',
      'image-size': '96',
      epochs: '2',
      'fine-tune-epochs': '1',
      name: 'hub-top',
    });
    const result = await testContainer(config).get(TrainPipeline).run(data);
    assert.equal(result.plan.policy, 'top');
    assert.equal(result.plan.cutLayer, 'expanded_conv_14_add');
    assert.ok(!result.plan.reasons.some((reason) => reason.includes('GraphModel')), result.plan.reasons.join('\n'));
    assert.ok(result.timings.twin_s >= 0 && result.timings.twin_s <= result.timings.base_s, JSON.stringify(result.timings));

    const download = readModelFiles(path.join(cacheDir, 'hub', hubId));
    const metadata = JSON.parse(fs.readFileSync(path.join(result.exportDir, 'metadata.json'), 'utf8'));
    assert.equal(metadata.format, 'layers-model');
    assert.equal(metadata.base.id, hubId);
    assert.equal(metadata.base.hubPath, '/google/imagenet/mobilenet_v2_100_224/classification/2');
    assert.equal(metadata.base.sha256, download.sha256);
    assert.match(metadata.base.twin, /batch norm was folded/);

    // Plain tfjs, none of this project's loaders: model.json and its shards from disk.
    const exported = await tf.loadLayersModel(ioHandlerFor(readModelFiles(result.exportDir)));
    const base = await new HubMobileNetSource(config, silentLogger).load(hubId);
    try {
      assert.equal(base.network.kind, 'layers');
      const original = new Map((base.network as { model: tf.LayersModel }).model.weights.map((w) => [w.originalName, w]));
      const trainable = new Set(result.plan.trainableLayers);
      assert.ok(trainable.has('expanded_conv_15_depthwise') && trainable.has('Conv_1'), [...trainable].join(', '));
      let frozen = 0;
      let changed = 0;
      for (const layer of exported.layers) {
        for (const weight of layer.weights) {
          const before = original.get(weight.originalName);
          if (!before) continue;
          const same = bits(before).equals(bits(weight));
          if (trainable.has(layer.name)) changed += same ? 0 : 1;
          else {
            assert.ok(same, `${weight.originalName} is frozen but changed`);
            frozen += 1;
          }
        }
      }
      // Kernel and bias of Conv, expanded_conv (depthwise, project) and blocks 1-14 (expand, depthwise, project).
      assert.equal(frozen, 2 * (1 + 2 + 14 * 3), `${frozen} frozen weights compared`);
      // The twin's top blocks were trained; the gate then keeps them only if they beat the head-only model.
      const fineTune = metadata.training.phases.find((phase: { name: string }) => phase.name === 'fine-tune');
      assert.ok(fineTune?.history.length > 0, 'the twin was not fine-tuned');
      const gate = result.plan.fineTune!.gate!;
      if (gate.kept) assert.ok(changed > 0, 'fine-tuning was kept but changed no weight of the top blocks');
      else assert.equal(changed, 0, `a dropped fine-tuning phase must leave the pretrained blocks bit for bit (${gate.reason})`);
      const probabilities = tf.tidy(() => (exported.predict(tf.fill([2, 96, 96, 3], 128)) as tf.Tensor).arraySync() as number[][]);
      for (const row of probabilities) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    } finally {
      base.dispose();
      exported.dispose();
    }
  });

  it('plan measures similarity and explains itself as for the offline base', async () => {
    const data = copySample({ classes: 2, perClass: 12 });
    const plans = [];
    for (const base of ['mobilenet_v2', hubId]) {
      const config = testConfig({ base, 'hub-url': hub.url, policy: 'auto', 'image-size': '64', 'probe-images': '24' });
      const prepared = await testContainer(config).get(RunPreparation).prepare(data);
      plans.push({ plan: prepared.plan, layers: prepared.base.candidateLayers, timings: prepared.timings });
      prepared.base.dispose();
    }
    const [offline, twin] = plans;
    assert.ok('twin_s' in twin.timings && !('twin_s' in offline.timings));
    assert.notEqual(twin.plan.similarity.category, 'not-measured');
    assert.deepEqual(twin.plan.similarity.scores.map((score) => score.layer), twin.layers);
    assert.deepEqual(twin.layers, ['expanded_conv_3_expand_Relu6', 'expanded_conv_6_expand_Relu6', 'expanded_conv_10_expand_Relu6', 'expanded_conv_13_expand_Relu6', 'expanded_conv_16_expand_Relu6', 'Conv_1_Relu6']);
    assert.equal(twin.plan.similarity.scores.length, offline.plan.similarity.scores.length);
    assert.deepEqual(reasonTemplates(twin.plan.reasons, twin.layers), reasonTemplates(offline.plan.reasons, offline.layers));
  });
});
