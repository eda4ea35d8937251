import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldParts, stratifiedFolds } from '../../src/select/stratified-folds';

const labelsOf = (...counts: number[]) => counts.flatMap((count, label) => new Array<number>(count).fill(label));

describe('stratifiedFolds', () => {
  it('spreads every class evenly and keeps fold sizes within one', () => {
    const labels = labelsOf(17, 9, 4);
    const foldOf = stratifiedFolds(labels, 3, 3, 9);
    const sizes = [0, 0, 0];
    const perClass = [0, 1, 2].map(() => [0, 0, 0]);
    labels.forEach((label, i) => {
      sizes[foldOf[i]]++;
      perClass[label][foldOf[i]]++;
    });
    assert.deepEqual(sizes, [10, 10, 10]);
    for (const counts of perClass) assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, String(counts));
  });

  it('is stable for a seed and changes with it', () => {
    const labels = labelsOf(20, 20, 20);
    assert.deepEqual(stratifiedFolds(labels, 3, 5, 4), stratifiedFolds(labels, 3, 5, 4));
    assert.notDeepEqual(stratifiedFolds(labels, 3, 5, 5), stratifiedFolds(labels, 3, 5, 4));
  });

  it('puts the images of a class smaller than k in different folds', () => {
    const labels = labelsOf(12, 3, 1);
    const foldOf = stratifiedFolds(labels, 3, 5, 1);
    const small = labels.flatMap((label, i) => (label === 1 ? [foldOf[i]] : []));
    assert.equal(new Set(small).size, 3);
    // Each fold's training part keeps the rest of the small class.
    for (const fold of small) assert.equal(foldParts(foldOf, fold).train.filter((i) => labels[i] === 1).length, 2);
  });

  it('caps k at the number of images and refuses k < 2', () => {
    const foldOf = stratifiedFolds([0, 1, 0], 2, 5, 0);
    assert.deepEqual([...foldOf].sort(), [0, 1, 2]);
    assert.throws(() => stratifiedFolds([0, 1], 2, 1, 0), /folds must be an integer >= 2/);
    assert.throws(() => stratifiedFolds([0, 3], 2, 2, 0), /label 3 of sample 1/);
  });
});
