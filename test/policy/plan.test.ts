import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BaseModel } from '../../src/models/base-model';
import { NsfwjsMobileNetSource } from '../../src/models/nsfwjs-mobilenet-source';
import { ConfigError } from '../../src/errors';
import { makePlan, type PlanInputs } from '../../src/policy/plan';
import { judgeSimilarity } from '../../src/policy/similarity';

describe('makePlan', () => {
  let base: BaseModel;
  const inputs = (overrides: Partial<PlanInputs> = {}): PlanInputs => ({
    base,
    requestedPolicy: 'auto',
    cutLayer: '',
    topBlocks: 4,
    deepBlocks: 8,
    perClass: { cats: 40, dogs: 30 },
    largeMinImages: 2000,
    largeMinImagesPerClass: 100,
    headLayers: ['head_probabilities'],
    ...overrides,
  });

  before(async () => {
    await tf.setBackend('wasm');
    base = await new NsfwjsMobileNetSource().load('mobilenet_v2');
  });
  after(() => base.dispose());

  it('calls a dataset large only when both the total and the smallest class reach their thresholds', () => {
    assert.equal(makePlan(inputs()).datasetSize.category, 'small');
    assert.equal(makePlan(inputs({ perClass: { a: 2500, b: 2500 } })).datasetSize.category, 'large');
    assert.equal(makePlan(inputs({ perClass: { a: 4950, b: 50 } })).datasetSize.category, 'small', 'one tiny class keeps it small');
    assert.equal(makePlan(inputs({ perClass: { a: 1000, b: 1000 } })).datasetSize.category, 'large', 'exactly at the thresholds');
    const plan = makePlan(inputs({ perClass: { a: 10, b: 7 } }));
    assert.equal(plan.datasetSize.total, 17);
    assert.equal(plan.datasetSize.smallestClass, 7);
    assert.match(plan.reasons[0], /17 training images, the smallest class has 7/);
  });

  it('auto cuts the default base at its recommended layer and keeps it frozen', () => {
    const plan = makePlan(inputs());
    assert.equal(plan.policy, 'intermediate');
    assert.equal(plan.cutLayer, 'block_13_expand_relu');
    assert.equal(plan.fineTune, undefined);
    assert.deepEqual(plan.trainableLayers, ['head_probabilities']);
    assert.ok(plan.reasons.some((r) => r.includes('block_13_expand_relu') && r.includes('nsfwjs')));
  });

  it('head reads the last feature map; a configured cut layer wins under intermediate', () => {
    assert.equal(makePlan(inputs({ requestedPolicy: 'head' })).cutLayer, 'out_relu');
    const forced = makePlan(inputs({ requestedPolicy: 'intermediate', cutLayer: 'block_6_expand_relu' }));
    assert.equal(forced.cutLayer, 'block_6_expand_relu');
    assert.ok(forced.reasons.some((r) => r.includes('forced')));
  });

  it('top fine-tunes the top blocks from the boundary below them, listing every trainable layer', () => {
    const plan = makePlan(inputs({ requestedPolicy: 'top' }));
    assert.equal(plan.policy, 'top');
    assert.equal(plan.cutLayer, 'block_12_add');
    assert.deepEqual(plan.fineTune, { until: 'out_relu', blocks: 4, to: 'top' });
    assert.ok(plan.trainableLayers.includes('block_13_expand'));
    assert.ok(plan.trainableLayers.includes('Conv_1_bn'));
    assert.ok(!plan.trainableLayers.some((name) => name.startsWith('block_12_')), 'nothing below the boundary trains');
    assert.equal(plan.trainableLayers.at(-1), 'head_probabilities');
  });

  it('deep fine-tunes more blocks than top, as configured', () => {
    const deep = makePlan(inputs({ requestedPolicy: 'deep', deepBlocks: 6 }));
    assert.equal(deep.cutLayer, 'block_10_project_BN');
    assert.ok(deep.trainableLayers.length > makePlan(inputs({ requestedPolicy: 'top' })).trainableLayers.length);
    assert.throws(() => makePlan(inputs({ requestedPolicy: 'deep', deepBlocks: 99 })), /Received 99 blocks to fine-tune/);
  });

  it('limits a GraphModel base to frozen features and says so instead of failing', () => {
    const graphBase = { ...base, network: { kind: 'graph', model: {} as tf.GraphModel, outputNode: 'pool', files: {} as never }, lastFeatureLayer: 'pool', recommendedCut: undefined } as BaseModel;
    const plan = makePlan(inputs({ base: graphBase, requestedPolicy: 'top' }));
    assert.equal(plan.policy, 'head');
    assert.equal(plan.fineTune, undefined);
    assert.ok(plan.reasons.some((r) => /GraphModel.*frozen features/.test(r)));
  });

  describe('the 2x2 matrix under auto', () => {
    const layers = ['block_3_expand_relu', 'block_6_expand_relu', 'block_13_expand_relu', 'out_relu'];
    const similar = () => judgeSimilarity(layers.map((layer, i) => ({ layer, score: i })), 0.1, 500);
    const differentAt = (best: string) => judgeSimilarity(layers.map((layer) => ({ layer, score: layer === best ? 1 : 0 })), 0.1, 500);
    const large = { a: 1500, b: 1500 };

    it('small + similar: a head on the last features', () => {
      const plan = makePlan(inputs({ similarity: similar() }));
      assert.equal(plan.policy, 'head');
      assert.equal(plan.cutLayer, 'out_relu');
      assert.equal(plan.quadrant, 'small dataset, similar data');
    });

    it('small + different: a head on the depth that transfers best, the rest cut off', () => {
      const plan = makePlan(inputs({ similarity: differentAt('block_6_expand_relu') }));
      assert.equal(plan.policy, 'intermediate');
      assert.equal(plan.cutLayer, 'block_6_expand_relu');
      assert.equal(plan.quadrant, 'small dataset, different data');
      assert.deepEqual(plan.similarity.scores.map((s) => s.layer), layers, 'every score is in the plan');
    });

    it('large + similar: fine-tune the top blocks', () => {
      const plan = makePlan(inputs({ perClass: large, similarity: similar() }));
      assert.equal(plan.policy, 'top');
      assert.equal(plan.fineTune?.blocks, 4);
    });

    it('large + different: the network ends at the transfer peak and the blocks below it are fine-tuned', () => {
      const plan = makePlan(inputs({ perClass: large, similarity: differentAt('block_13_expand_relu') }));
      assert.equal(plan.policy, 'deep');
      assert.deepEqual(plan.fineTune, { until: 'block_13_expand_relu', blocks: 4, to: 'peak' });
      assert.equal(plan.cutLayer, 'block_9_add', 'blocks 10 to 13 relearn');
      assert.ok(plan.trainableLayers.includes('block_10_expand') && plan.trainableLayers.includes('block_13_expand_BN'));
      assert.ok(!plan.trainableLayers.some((name) => /^block_1[4-6]_|^block_13_depthwise|^Conv_1/.test(name)), 'nothing above the peak is in the network');
      assert.ok(plan.reasons.some((r) => /Transfer peaks at block_13_expand_relu, below the top \(out_relu\)/.test(r)), plan.reasons.join(' '));
      assert.ok(plan.reasons.some((r) => /kept only if.*more than 1 standard error/.test(r)), 'the plan states the keep-or-drop rule');
    });

    it('large + different, fineTuneTo top: fine-tune from the block where transfer stops up to the top, within the floor', () => {
      const plan = makePlan(inputs({ perClass: large, similarity: differentAt('block_13_expand_relu'), fineTuneTo: 'top' }));
      assert.equal(plan.cutLayer, 'block_12_add', 'blocks 13 to 16 relearn');
      assert.deepEqual(plan.fineTune, { until: 'out_relu', blocks: 4, to: 'top' });
      const deeper = makePlan(inputs({ perClass: large, similarity: differentAt('block_6_expand_relu'), deepBlocks: 8, fineTuneTo: 'top' }));
      assert.equal(deeper.fineTune?.blocks, 8, 'the floor caps it');
      assert.ok(deeper.reasons.some((r) => /floor policy.deepBlocks allows 8/.test(r)));
    });

    it('large + different with the peak below the floor: nothing unfreezes, the head reads the peak as under intermediate', () => {
      const plan = makePlan(inputs({ perClass: large, similarity: differentAt('block_6_expand_relu'), deepBlocks: 8 }));
      assert.equal(plan.policy, 'intermediate');
      assert.equal(plan.cutLayer, 'block_6_expand_relu');
      assert.equal(plan.fineTune, undefined);
      assert.ok(plan.reasons.some((r) => /below the floor of policy.deepBlocks=8/.test(r)), plan.reasons.join(' '));
    });

    it('a forced policy wins over the measurement', () => {
      const plan = makePlan(inputs({ requestedPolicy: 'head', perClass: large, similarity: differentAt('block_6_expand_relu') }));
      assert.equal(plan.policy, 'head');
      assert.equal(plan.cutLayer, 'out_relu');
    });
  });

  describe('pooling', () => {
    const layers = ['block_3_expand_relu', 'block_6_expand_relu', 'block_10_expand_relu', 'block_13_expand_relu', 'block_16_expand_relu', 'out_relu'];
    const measured = (average: number, grid: number) => ({
      ...judgeSimilarity(layers.map((layer) => ({ layer, score: layer === 'block_13_expand_relu' ? 1 : 0 })), 0.1, 500),
      pooling: { layer: 'block_13_expand_relu', average, grid },
    });

    it('auto: a 2x2 grid at an intermediate cut only when the probe measured it better there', () => {
      const better = makePlan(inputs({ similarity: measured(0.8, 0.84) }));
      assert.equal(better.cutLayer, 'block_13_expand_relu');
      assert.equal(better.pooling, 'grid');
      assert.ok(better.reasons.some((r) => /2x2 grid 0\.840, whole image 0\.800/.test(r)), better.reasons.join(' '));
      const notBetter = makePlan(inputs({ similarity: measured(0.8, 0.805) }));
      assert.equal(notBetter.pooling, 'average');
      assert.ok(notBetter.reasons.some((r) => /did not measure better/.test(r)), notBetter.reasons.join(' '));
    });

    it('auto: the whole image when nothing was measured, at the last layer and under fine-tuning', () => {
      assert.equal(makePlan(inputs({ requestedPolicy: 'intermediate' })).pooling, 'average');
      assert.equal(makePlan(inputs({ requestedPolicy: 'head', similarity: measured(0.5, 0.9) })).pooling, 'average');
      assert.equal(makePlan(inputs({ perClass: { a: 1500, b: 1500 }, similarity: measured(0.5, 0.9), fineTuneTo: 'top' })).pooling, 'average');
    });

    it('auto: a network fine-tuned up to the transfer peak is read there with the grid when the probe measured it better', () => {
      const plan = makePlan(inputs({ perClass: { a: 1500, b: 1500 }, similarity: measured(0.5, 0.9) }));
      assert.equal(plan.fineTune?.until, 'block_13_expand_relu');
      assert.equal(plan.pooling, 'grid');
      assert.equal(makePlan(inputs({ perClass: { a: 1500, b: 1500 }, similarity: measured(0.8, 0.805) })).pooling, 'average');
    });

    it('auto keeps whole-image pooling when the smallest class is below policy.gridMinImagesPerClass', () => {
      const few = makePlan(inputs({ perClass: { cats: 40, dogs: 19 }, similarity: measured(0.5, 0.9) }));
      assert.equal(few.pooling, 'average');
      assert.ok(few.reasons.some((r) => /19 images in the smallest class/.test(r)), few.reasons.join(' '));
      assert.equal(makePlan(inputs({ perClass: { cats: 40, dogs: 20 }, similarity: measured(0.5, 0.9) })).pooling, 'grid');
      assert.equal(makePlan(inputs({ perClass: { cats: 40, dogs: 19 }, similarity: measured(0.5, 0.9), gridMinImagesPerClass: 10 })).pooling, 'grid');
    });

    it('forced pooling wins where it applies, and grid under fine-tuning is a configuration error', () => {
      assert.equal(makePlan(inputs({ requestedPolicy: 'intermediate', requestedPooling: 'average' })).pooling, 'average');
      assert.equal(makePlan(inputs({ requestedPolicy: 'head', requestedPooling: 'grid' })).pooling, 'grid');
      assert.throws(
        () => makePlan(inputs({ requestedPolicy: 'top', requestedPooling: 'grid' })),
        (error: Error) => error instanceof ConfigError && /Received policy\.pooling=grid with a plan that fine-tunes up to the top/.test(error.message),
      );
    });
  });
});
