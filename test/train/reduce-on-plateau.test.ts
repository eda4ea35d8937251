import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReduceOnPlateau } from '../../src/train/reduce-on-plateau';

describe('ReduceOnPlateau', () => {
  test('multiplies the rate by the factor after `patience` epochs without improvement, then waits again', () => {
    const plateau = new ReduceOnPlateau(2, 0.5);
    const losses = [1.0, 0.9, 0.95, 0.92, 0.91, 0.93, 0.8, 0.85, 0.81];
    const reduced = losses.map((loss) => plateau.update(loss));
    assert.deepEqual(reduced, [false, false, false, true, false, true, false, false, true]);
    assert.equal(plateau.multiplier, 0.125);
  });

  test('NaN never counts as an improvement', () => {
    const plateau = new ReduceOnPlateau(1, 0.5);
    plateau.update(1);
    assert.equal(plateau.update(Number.NaN), true);
  });

  test('its state round-trips through JSON: a restored one decides like the original', () => {
    const original = new ReduceOnPlateau(3, 0.5);
    [1, 0.8, 0.85, 0.9].forEach((loss) => original.update(loss));
    const restored = new ReduceOnPlateau(3, 0.5);
    restored.setState(JSON.parse(JSON.stringify(original.getState())));
    for (const loss of [0.95, 0.7, 0.75, 0.72, 0.71]) assert.equal(restored.update(loss), original.update(loss));
    assert.equal(restored.multiplier, original.multiplier);
    assert.deepEqual(original.toConfig(), { name: 'reduceOnPlateau', patience: 3, factor: 0.5, minDelta: 0 });
  });

  test('refuses a factor outside (0, 1) and a patience that is not a positive integer', () => {
    assert.throws(() => new ReduceOnPlateau(2, 1), /Received factor=1\. Expected a number in \(0, 1\)\./);
    assert.throws(() => new ReduceOnPlateau(0, 0.5), /Received patience=0\. Expected a positive integer\./);
  });
});
