import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { predictedIndices, topLosses } from '../../src/report/top-losses';

describe('topLosses', () => {
  // Four examples, three classes.
  const probabilities = [
    0.7, 0.2, 0.1, // true 0, right
    0.05, 0.9, 0.05, // true 0, confidently wrong
    0.3, 0.3, 0.4, // true 1, wrong but unsure
    0.1, 0.1, 0.8, // true 2, right
  ];
  const truth = [0, 0, 1, 2];

  it('puts the most confidently wrong example first, then by loss', () => {
    const worst = topLosses(probabilities, 3, truth, 3);
    assert.deepEqual(worst.map((w) => w.index), [1, 2, 0]);
    assert.equal(worst[0].predictedIndex, 1);
    assert.ok(Math.abs(worst[0].confidence - 0.9) < 1e-12);
    assert.ok(Math.abs(worst[0].loss - -Math.log(0.05)) < 1e-12);
    assert.ok(Math.abs(worst[1].trueProbability - 0.3) < 1e-12);
  });

  it('refuses probabilities that do not match the examples', () => {
    assert.throws(() => topLosses([0.5, 0.5], 3, [0], 1), /Received 2 probabilities for 1 examples. Expected 3 per example./);
  });

  it('predicts the most probable class of each example', () => {
    assert.deepEqual(predictedIndices(probabilities, 3), [0, 1, 2, 2]);
  });
});
