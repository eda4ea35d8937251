import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crossValidates } from '../../src/pipeline/train-by-selection';
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
