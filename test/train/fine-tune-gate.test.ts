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

describe('abandonReason: stop fine-tuning once it has clearly lost', () => {
  const epochs = (...accuracies: number[]) => accuracies;
  const head = { accuracy: 0.85, n: 1000 };

  it('abandons after two epochs that trail the head by more than two standard errors without improving', () => {
    // Two standard errors of independent accuracies near 0.85 and 0.78 on 1000 images: about 0.035.
    assert.match(abandonReason(epochs(0.78, 0.77), head) ?? '', /trailed the head-only model's 0\.850 by more than 2 standard errors/);
  });

  it('goes on while too early, still improving, or within the noise', () => {
    assert.equal(abandonReason(epochs(0.5), head), undefined, 'one epoch is never enough');
    assert.equal(abandonReason(epochs(0.70, 0.78), head), undefined, 'still improving');
    assert.equal(abandonReason(epochs(0.83, 0.83), head), undefined, 'within two standard errors');
    assert.equal(abandonReason(epochs(0.78, 0.77), { accuracy: 0.85, n: 50 }), undefined, 'on 50 images 7 points is noise');
  });
});
