import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { abandonReason } from '../../src/train/early-abandon';
import { correctPredictions, fineTuneGate } from '../../src/train/fine-tune-gate';

/** n paired outcomes: `both` right for both models, b only for the head-only model, c only for the fine-tuned one, the rest wrong for both. */
function outcomes(n: number, both: number, b: number, c: number): [boolean[], boolean[]] {
  const head: boolean[] = [];
  const fine: boolean[] = [];
  for (let i = 0; i < n; i++) {
    head.push(i < both + b);
    fine.push(i < both || (i >= both + b && i < both + b + c));
  }
  return [head, fine];
}

describe('fineTuneGate: the paired keep-or-drop rule', () => {
  it('keeps fine-tuning only when (c - b) / n exceeds sqrt(b + c) / n', () => {
    // b = 10, c = 20: difference 10 / 400, one standard error sqrt(30) / 400 = 5.5 / 400: kept.
    const kept = fineTuneGate(...outcomes(400, 300, 10, 20));
    assert.equal(kept.kept, true);
    assert.equal(kept.onlyHeadOnlyRight, 10);
    assert.equal(kept.onlyFineTunedRight, 20);
    assert.equal(kept.difference, 10 / 400);
    assert.equal(kept.standardError, Math.sqrt(30) / 400);
    assert.equal(kept.headOnlyAccuracy, 310 / 400);
    assert.equal(kept.fineTunedAccuracy, 320 / 400);
    // b = 20, c = 25: difference 5, one standard error sqrt(45) = 6.7: within the noise, dropped although fine-tuning scored higher.
    const noise = fineTuneGate(...outcomes(400, 300, 20, 25));
    assert.equal(noise.kept, false);
    assert.ok(noise.fineTunedAccuracy > noise.headOnlyAccuracy);
    assert.match(noise.reason, /head-only model is exported.*b=20, c=25/);
  });

  it('drops ties and losses, and anything abandoned', () => {
    assert.equal(fineTuneGate(...outcomes(100, 80, 0, 0)).kept, false, 'identical predictions');
    assert.equal(fineTuneGate(...outcomes(100, 60, 20, 2)).kept, false);
    const abandoned = fineTuneGate(...outcomes(100, 60, 0, 30), { epoch: 1, reason: 'it had lost' });
    assert.equal(abandoned.kept, false);
    assert.match(abandoned.reason, /abandoned after epoch 2 \(it had lost\)/);
  });

  it('refuses to compare different images', () => {
    assert.throws(() => fineTuneGate([true], [true, false]), /same validation images/);
    assert.throws(() => fineTuneGate([], []), /same validation images/);
  });

  it('reads correctness from row-major probabilities', () => {
    assert.deepEqual(correctPredictions(new Float32Array([0.9, 0.1, 0.2, 0.8, 0.6, 0.4]), [0, 0, 1]), [true, false, false]);
  });
});

describe('abandonReason: stop fine-tuning once it is no longer on its way to earning its place', () => {
  /** One epoch's paired counts per [b, c]: images only the head-only model gets right, and only the fine-tuned one. */
  const epochs = (...counts: [number, number][]) => counts.map(([onlyReferenceRight, onlyThisRight]) => ({ onlyReferenceRight, onlyThisRight }));

  it('abandons after two epochs in a row without a new best lead, when no epoch passed the gate', () => {
    // Leads c - b: -10, -8, -9, -9: the best (-8) came before the last two epochs.
    assert.match(abandonReason(epochs([30, 20], [28, 20], [29, 20], [29, 20])) ?? '', /did not improve on its best lead of -8 images \(c - b per epoch: -10, -8, -9, -9\)/);
    // Close to the head but stalled: 40 vs 36 images, then no gain for two epochs.
    assert.ok(abandonReason(epochs([40, 36], [42, 36], [41, 36])));
  });

  it('goes on while too early, still gaining, or once an epoch has earned its place', () => {
    assert.equal(abandonReason(epochs([60, 10], [60, 10])), undefined, 'two epochs are never enough');
    assert.equal(abandonReason(epochs([30, 20], [31, 20], [28, 20])), undefined, 'the last epoch set a new best lead');
    assert.equal(abandonReason(epochs([30, 20], [25, 22], [30, 20])), undefined, 'the epoch before set a new best lead');
    // c - b = 20 > sqrt(60) = 7.7 at the first epoch: that epoch would be kept, so early stopping decides, not abandonment.
    assert.equal(abandonReason(epochs([20, 40], [30, 20], [30, 20])), undefined);
  });
});
