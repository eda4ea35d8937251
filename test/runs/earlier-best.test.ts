import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RuntimeFailure } from '../../src/errors';
import { checkAgainstEarlierBest, earlierBest } from '../../src/runs/earlier-best';

describe('earlierBest', () => {
  test("takes each phase's lowest-validation-loss epoch (what early stopping restores) and the best of those", () => {
    const best = earlierBest([
      { phase: 'head', epoch: 0, valLoss: 0.9, valAccuracy: 0.6 },
      { phase: 'head', epoch: 1, valLoss: 0.5, valAccuracy: 0.8 },
      { phase: 'head', epoch: 2, valLoss: 0.6, valAccuracy: 0.85 },
      { phase: 'fine-tune', epoch: 0, valLoss: 0.4, valAccuracy: 0.75 },
      { phase: 'fine-tune', epoch: 1, loss: 0.1 },
    ]);
    assert.deepEqual(best, { accuracy: 0.8, phase: 'head', epoch: 2 });
    assert.equal(earlierBest([{ phase: 'head', epoch: 0, loss: 1 }]), undefined);
  });
});

describe('checkAgainstEarlierBest', () => {
  const earlier = { accuracy: 0.9, phase: 'head', epoch: 3 };
  test('within one validation image of the earlier best (or with nothing earlier) is fine', () => {
    assert.equal(checkAgainstEarlierBest({ accuracy: 0.85, n: 20 }, earlier, 0.5), undefined);
    assert.equal(checkAgainstEarlierBest({ accuracy: 0.1, n: 20 }, undefined, 0.5), undefined);
  });
  test('further below: a loud warning, or a refusal when export.minAccuracy is set', () => {
    assert.match(checkAgainstEarlierBest({ accuracy: 0.5, n: 20 }, earlier, 0)!, /^WARNING: .*0\.500 \(on 20 images\), below this run's own earlier best of 0\.900 \(head epoch 3/);
    assert.throws(() => checkAgainstEarlierBest({ accuracy: 0.5, n: 20 }, earlier, 0.3), RuntimeFailure);
  });
});
