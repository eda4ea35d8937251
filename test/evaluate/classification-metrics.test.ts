import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classificationReport } from '../../src/evaluate/classification-metrics';

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual}, expected ${expected}`);

describe('classificationReport', () => {
  // cat: 4 examples, dog: 3, bird: 2. Nothing is ever predicted as bird.
  const labels = ['cat', 'dog', 'bird'];
  const truth = [0, 0, 0, 0, 1, 1, 1, 2, 2];
  const predicted = [0, 0, 0, 1, 1, 1, 0, 0, 1];
  const report = classificationReport(truth, predicted, labels);

  test('confusion matrix: rows are the true class, columns the predicted one', () => {
    assert.deepEqual(report.confusion, [
      [3, 1, 0],
      [1, 2, 0],
      [1, 1, 0],
    ]);
    assert.deepEqual(report.labels, labels);
    assert.equal(report.n, 9);
  });

  test('accuracy is the share of the diagonal', () => {
    close(report.accuracy, 5 / 9, 'accuracy');
  });

  test('precision, recall, F1 and support per class, by hand', () => {
    // cat: predicted 5 times, 3 right; 4 true cats.
    close(report.perClass.cat.precision, 3 / 5, 'cat precision');
    close(report.perClass.cat.recall, 3 / 4, 'cat recall');
    close(report.perClass.cat.f1, (2 * (3 / 5) * (3 / 4)) / (3 / 5 + 3 / 4), 'cat f1');
    assert.equal(report.perClass.cat.support, 4);
    // dog: predicted 4 times, 2 right; 3 true dogs.
    close(report.perClass.dog.precision, 2 / 4, 'dog precision');
    close(report.perClass.dog.recall, 2 / 3, 'dog recall');
    close(report.perClass.dog.f1, 4 / 7, 'dog f1');
    assert.equal(report.perClass.dog.support, 3);
  });

  test('a class never predicted has precision 0 (not NaN), recall 0 and F1 0', () => {
    assert.deepEqual(report.perClass.bird, { precision: 0, recall: 0, f1: 0, support: 2 });
  });

  test('a class with no examples and no predictions scores 0, not NaN', () => {
    const sparse = classificationReport([0, 0, 1], [0, 1, 1], ['a', 'b', 'c']);
    assert.deepEqual(sparse.perClass.c, { precision: 0, recall: 0, f1: 0, support: 0 });
    assert.deepEqual(sparse.confusion[2], [0, 0, 0]);
    close(sparse.perClass.b.precision, 1 / 2, 'b precision');
    close(sparse.perClass.b.recall, 1, 'b recall');
    close(sparse.perClass.a.recall, 1 / 2, 'a recall');
  });

  test('perfect predictions score 1 everywhere', () => {
    const perfect = classificationReport([1, 0, 1, 2], [1, 0, 1, 2], ['x', 'y', 'z']);
    assert.equal(perfect.accuracy, 1);
    for (const label of ['x', 'y', 'z']) {
      assert.equal(perfect.perClass[label].precision, 1);
      assert.equal(perfect.perClass[label].recall, 1);
      assert.equal(perfect.perClass[label].f1, 1);
    }
    assert.deepEqual(perfect.confusion, [
      [1, 0, 0],
      [0, 2, 0],
      [0, 0, 1],
    ]);
  });

  test('no examples: accuracy 0, not NaN', () => {
    const empty = classificationReport([], [], ['a', 'b']);
    assert.equal(empty.accuracy, 0);
    assert.equal(empty.n, 0);
    assert.deepEqual(empty.confusion, [
      [0, 0],
      [0, 0],
    ]);
  });

  test('mismatched lengths throw, saying both counts', () => {
    assert.throws(() => classificationReport([0, 1, 1], [0, 1], ['a', 'b']), /Received 3 true labels and 2 predictions\. Expected equal counts\./);
    assert.throws(() => classificationReport([0], [0, 1], ['a', 'b']), /Received 1 true labels and 2 predictions/);
  });
});
