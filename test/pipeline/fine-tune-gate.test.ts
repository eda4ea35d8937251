import * as tf from '@tensorflow/tfjs';
import { chooseBackend } from '../../src/backend/choose-backend';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BaseModel } from '../../src/models/base-model';
import { segmentBetween } from '../../src/models/network-surgery';
import { NsfwjsMobileNetSource } from '../../src/models/nsfwjs-mobilenet-source';
import { trainClassifier } from '../../src/pipeline/train-classifier';
import { exportableClassifier } from '../../src/export/exportable-classifier';
import { loadExportModel } from '../../src/export/load-export';
import { createFrozenRunner } from '../../src/features/frozen-runner';
import { makePlan, withFineTuneGate, type Plan } from '../../src/policy/plan';
import { judgeSimilarity } from '../../src/policy/similarity';
import { silentLogger } from '../../src/logger';
import { abandonReason } from '../../src/train/early-abandon';
import type { LabelledData } from '../../src/train/fit';
import { seededRandom } from '../../src/train/seeded-random';
import { testConfig } from '../helpers/pipeline';
import { temporaryDir } from '../helpers/sample-data';

/**
 * Cached activations of block_15_add for 64x64 images ([n, 2, 2, 160]), two classes told apart by
 * which half of the first 80 channels is raised: the real block_16 and Conv_1 of MobileNetV2 are
 * fine-tuned on them, so every phase is real training, in seconds.
 */
function activations(n: number, seed: number): LabelledData {
  const random = seededRandom(seed);
  const values = new Float32Array(n * 2 * 2 * 160);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    labels.push(label);
    for (let cell = 0; cell < 4; cell++) {
      for (let c = 0; c < 160; c++) {
        const raised = c < 80 && Math.floor(c / 40) === label;
        values[(i * 4 + cell) * 160 + c] = Math.abs(random() * 2 - 1) + (raised ? 4 : 0);
      }
    }
  }
  return { x: tf.tensor4d(values, [n, 2, 2, 160]), labels };
}

function bitsOf(model: tf.LayersModel): string[] {
  return model.getWeights().map((w) => Buffer.from((w.dataSync() as Float32Array).buffer).toString('base64'));
}

describe('trainClassifier: fine-tuning must earn its place', () => {
  let base: BaseModel;
  let plan: Plan;
  let train: LabelledData;
  let val: LabelledData;
  let pretrained: string[];

  before(async () => {
    await chooseBackend('wasm');
    base = await new NsfwjsMobileNetSource().load('mobilenet_v2');
    plan = makePlan({
      base,
      requestedPolicy: 'top',
      cutLayer: '',
      topBlocks: 1,
      deepBlocks: 8,
      perClass: { a: 60, b: 60 },
      largeMinImages: 100,
      largeMinImagesPerClass: 10,
      headLayers: ['head_probabilities'],
    });
    assert.equal(plan.cutLayer, 'block_15_add');
    pretrained = bitsOf(segmentBetween((base.network as { model: tf.LayersModel }).model, 'block_15_add', 'out_relu', [2, 2, 160]));
    train = activations(80, 1);
    val = activations(40, 2);
  });
  after(() => {
    tf.dispose([train.x, val.x]);
    base.dispose();
  });

  const run = async (flags: Record<string, string>) => {
    const model = (base.network as { model: tf.LayersModel }).model;
    // Each run starts from the pretrained weights (the segment shares the base's layers).
    const original = model.getWeights().map((w) => w.clone());
    try {
      const trained = await trainClassifier({ plan, baseModel: model, train, val, numClasses: 2, config: testConfig({ 'batch-size': '16', ...flags }), logger: silentLogger });
      // Scored before the base's weights are put back.
      return { trained, segmentBits: bitsOf(trained.segment!), valAccuracy: trained.score(val).accuracy };
    } finally {
      model.setWeights(original);
      tf.dispose(original);
    }
  };

  it('keeps the fine-tuning phase when it beats the head-only model by more than a standard error', async () => {
    // A short, slow head phase (two epochs at rate 1e-4, no baseline) leaves the head-only model weak; fine-tuning then learns the classes.
    const { trained, segmentBits, valAccuracy } = await run({ epochs: '2', 'learning-rate': '0.0001', baseline: 'false', 'fine-tune-epochs': '6', 'fine-tune-learning-rate': '0.001' });
    const gate = trained.fineTuneGate!;
    assert.equal(gate.kept, true, gate.reason);
    assert.ok(gate.difference > gate.standardError, gate.reason);
    assert.ok(gate.fineTunedAccuracy >= 0.9, gate.reason);
    assert.equal(valAccuracy, gate.fineTunedAccuracy, 'the classifier returned is the fine-tuned one');
    assert.notDeepEqual(segmentBits, pretrained, 'the fine-tuned blocks are kept');
    const names = (base.network as { model: tf.LayersModel }).model.weights.map((w) => w.originalName);
    const moving = trained.segment!.weights.map((w, i) => ({ name: w.originalName, i })).filter((w) => /moving_(mean|variance)/.test(w.name));
    assert.ok(moving.length > 4 && moving.every((w) => names.includes(w.name)));
    assert.ok(moving.every((w) => segmentBits[w.i] === pretrained[w.i]), 'batch norm statistics never move: fine-tuning runs it in inference mode');
  });

  it('drops a fine-tuning phase that does not beat the head-only model: the pretrained blocks and the head-only head come back', async () => {
    // A rate so small that fine-tuning changes weights but no prediction: a tie, which is not "more than the noise".
    const { trained, segmentBits, valAccuracy } = await run({ epochs: '20', 'learning-rate': '0.01', 'fine-tune-epochs': '1', 'fine-tune-learning-rate': '0.00001' });
    const gate = trained.fineTuneGate!;
    assert.equal(gate.kept, false, gate.reason);
    assert.equal(gate.abandoned, undefined);
    assert.equal(gate.difference, 0);
    assert.match(gate.reason, /head-only model is exported/);
    assert.deepEqual(segmentBits, pretrained, 'the segment holds the pretrained weights again, bit for bit');
    assert.equal(valAccuracy, gate.headOnlyAccuracy);
  });

  it('measures fine-tuning against the baseline when the baseline beat the trained head, and exports the baseline when fine-tuning loses', async () => {
    // A barely trained head (one epoch at rate 1e-5) loses to the baseline; fine-tuning from it at a tiny rate cannot catch up.
    const { trained, segmentBits, valAccuracy } = await run({ epochs: '1', 'learning-rate': '0.00001', 'fine-tune-epochs': '1', 'fine-tune-learning-rate': '0.00001' });
    const [comparison, gate] = [trained.baseline!, trained.fineTuneGate!];
    assert.equal(comparison.winner, 'baseline', comparison.reason);
    assert.equal(gate.headOnlyAccuracy, comparison.baselineAccuracy, 'the gate compares with the baseline');
    assert.equal(gate.kept, false, gate.reason);
    assert.equal(valAccuracy, comparison.baselineAccuracy, 'the classifier returned is the pretrained segment read by the baseline');
    assert.deepEqual(segmentBits, pretrained);
    const { trained: refitted, refit } = trained.refitBaselineOnAll!();
    assert.equal(refit.images, 120, 'the exported baseline is refitted on training and validation images');
    assert.equal(refitted.segment, trained.segment, 'read through the same pretrained segment');
    refitted.head.dispose();
    assert.ok(trained.head.layers.filter((layer) => layer.getClassName() === 'Dropout').every((layer) => (layer.getConfig() as { rate: number }).rate === 0));
  });

  it('abandons fine-tuning once it stops gaining on the head without earning its place, and restores the head-only model', async () => {
    // A rate that wrecks the network: it trails the head by far and no longer gains on it.
    const { trained, segmentBits, valAccuracy } = await run({ epochs: '20', 'learning-rate': '0.01', 'fine-tune-epochs': '8', 'fine-tune-learning-rate': '0.5', 'base-rate-multiplier': '1' });
    const gate = trained.fineTuneGate!;
    const history = trained.phases.find((phase) => phase.name === 'fine-tune')!.history;
    assert.ok(gate.abandoned, gate.reason);
    assert.ok(history.length < 8, `stopped after ${history.length} of 8 epochs`);
    assert.equal(gate.abandoned.epoch, history.length - 1);
    const paired = history.map((epoch) => epoch.versusReference!);
    assert.equal(paired.length, history.length, 'every epoch compared with the head-only model on the same images');
    assert.equal(abandonReason(paired.slice(0, -1)), undefined, 'not one epoch sooner');
    assert.match(gate.abandoned.reason, new RegExp(`c - b per epoch: ${paired.map(({ onlyReferenceRight: b, onlyThisRight: c }) => `${c - b >= 0 ? '\\+' : ''}${c - b}`).join(', ')}`));
    assert.equal(gate.kept, false);
    assert.match(gate.reason, /abandoned after epoch/);
    assert.deepEqual(segmentBits, pretrained, 'restored');
    assert.equal(valAccuracy, gate.headOnlyAccuracy);
  });
});

/** 64x64 images whose class is the bright half (left or right): where features appear is what tells them apart. */
function halfBrightImages(n: number, seed: number): { pixels: tf.Tensor4D; labels: number[] } {
  const random = seededRandom(seed);
  const values = new Float32Array(n * 64 * 64 * 3);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    labels.push(i % 2);
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        const bright = (x < 32) === (i % 2 === 0);
        for (let c = 0; c < 3; c++) values[((i * 64 + y) * 64 + x) * 3 + c] = (bright ? 160 : 40) + random() * 60;
      }
    }
  }
  return { pixels: tf.tensor4d(values, [n, 64, 64, 3]), labels };
}

describe('a deep plan where transfer peaks below the top', () => {
  it('trains and exports a network that ends at the peak, read there over the 2x2 grid the probe preferred', async () => {
    await chooseBackend('wasm');
    const base = await new NsfwjsMobileNetSource().load('mobilenet_v2');
    const layers = ['block_6_expand_relu', 'block_13_expand_relu', 'out_relu'];
    const similarity = {
      ...judgeSimilarity(layers.map((layer) => ({ layer, score: layer === 'block_13_expand_relu' ? 1 : 0 })), 0.1, 200),
      pooling: { layer: 'block_13_expand_relu', average: 0.7, grid: 0.9 },
    };
    const plan = makePlan({
      base,
      requestedPolicy: 'auto',
      cutLayer: '',
      topBlocks: 2,
      deepBlocks: 8,
      perClass: { left: 60, right: 60 },
      largeMinImages: 100,
      largeMinImagesPerClass: 10,
      headLayers: ['head_probabilities'],
      similarity,
    });
    assert.deepEqual([plan.policy, plan.pooling, plan.fineTune?.to, plan.fineTune?.until], ['deep', 'grid', 'peak', 'block_13_expand_relu']);
    const runner = createFrozenRunner(base, plan.cutLayer, 64, { pool: false });
    const images = { train: halfBrightImages(24, 3), val: halfBrightImages(12, 4) };
    const train = { x: runner.run(images.train.pixels), labels: images.train.labels };
    const val = { x: runner.run(images.val.pixels), labels: images.val.labels };
    try {
      const trained = await trainClassifier({
        plan,
        baseModel: (base.network as { model: tf.LayersModel }).model,
        train,
        val,
        numClasses: 2,
        config: testConfig({ 'batch-size': '8', epochs: '3', 'fine-tune-epochs': '1' }),
        logger: silentLogger,
      });
      const classifier = exportableClassifier(base, runner, trained.head, withFineTuneGate(plan, trained.fineTuneGate));
      const dir = temporaryDir('export');
      await classifier.writeModel(dir);
      const exported = (await loadExportModel(dir)) as tf.LayersModel;
      try {
        const names = exported.layers.map((layer) => layer.name);
        assert.ok(names.includes('block_13_expand_relu') && names.includes('head_pool_grid_pool'), names.slice(-8).join(' '));
        assert.ok(!names.some((name) => /^block_13_depthwise|^block_1[4-6]_|^Conv_1|^out_relu/.test(name)), 'nothing above the peak is exported');
        const expected = await trained.probabilities(val.x);
        const actual = tf.tidy(() => (exported.predict(images.val.pixels) as tf.Tensor).dataSync());
        assert.ok(expected.every((p, i) => Math.abs(p - actual[i]) < 1e-4), 'the export predicts what was trained');
      } finally {
        exported.dispose();
      }
    } finally {
      tf.dispose([train.x, val.x, images.train.pixels, images.val.pixels]);
      runner.dispose();
      base.dispose();
    }
  });
});
