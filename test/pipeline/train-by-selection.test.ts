import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crossValidates, readoutsCrossValidated } from '../../src/pipeline/train-by-selection';
import type { Plan } from '../../src/policy/plan';
import { testConfig } from '../helpers/pipeline';

describe('crossValidates', () => {
  const frozen = { cutLayer: 'block_13_expand_relu' } as Plan;
  const config = testConfig({ folds: '5' });

  it('cross-validates small data below policy.largeMinImages and keeps a held-out split for large data', () => {
    assert.equal(crossValidates(config, frozen, config.policy.largeMinImages - 1), true);
    assert.equal(crossValidates(config, frozen, config.policy.largeMinImages), false);
  });

  it('follows train.crossValidateBelow, and never with fine-tuning, augmented views or folds 0', () => {
    assert.equal(crossValidates(testConfig({ folds: '5', 'cross-validate-below': '100' }), frozen, 150), false);
    assert.equal(crossValidates(config, { ...frozen, fineTune: { until: 'out_relu', blocks: 4, to: 'top' } }, 100), false);
    assert.equal(crossValidates(testConfig({ folds: '5', 'augment-views': '2' }), frozen, 100), false);
    assert.equal(crossValidates(testConfig({ folds: '0' }), frozen, 100), false);
  });
});

describe('readoutsCrossValidated (before the plan: the measurement then leaves the pooling to the readouts)', () => {
  /** `perClass` training images in each of two classes, and `val` validation images. */
  const dataset = (perClass: number, val = 0) => ({
    labels: ['a', 'b'],
    train: Array.from({ length: 2 * perClass }, (_, i) => ({ label: i % 2 ? 'b' : 'a' })),
    val: Array.from({ length: val }, () => ({ label: 'a' })),
  });
  const cast = (d: ReturnType<typeof dataset>) => d as unknown as Parameters<typeof readoutsCrossValidated>[1];

  it('is true for small data that cross-validates, false with folds 0 or augmented views', () => {
    assert.equal(readoutsCrossValidated(testConfig({ folds: '5' }), cast(dataset(50, 20))), true);
    assert.equal(readoutsCrossValidated(testConfig({ folds: '0' }), cast(dataset(50))), false);
    assert.equal(readoutsCrossValidated(testConfig({ folds: '5', 'augment-views': '1' }), cast(dataset(50))), false);
  });

  it('is false for large data, even below a raised train.crossValidateBelow (the plan may fine-tune it)', () => {
    const raised = testConfig({ folds: '5', 'large-min-images': '200', 'large-min-images-per-class': '100', 'cross-validate-below': '1000' });
    assert.equal(readoutsCrossValidated(raised, cast(dataset(100))), false);
    // The same count is small when a class is under policy.largeMinImagesPerClass: never fine-tuned, so cross-validated.
    assert.equal(readoutsCrossValidated(raised, cast({ ...dataset(100), train: [...dataset(150).train.filter((r) => r.label === 'a'), ...dataset(50).train.filter((r) => r.label === 'b')] })), true);
    // Labelled images (train + val) at train.crossValidateBelow: a held-out split instead.
    assert.equal(readoutsCrossValidated(testConfig({ folds: '5', 'cross-validate-below': '100' }), cast(dataset(40, 20))), false);
  });
});
