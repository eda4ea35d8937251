import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crossValidateLogistic } from '../../src/select/cross-validated-logistic';
import { crossValidateLogisticAside, crossValidatePaths, LogisticPool, refitOnPool, type LogisticJob } from '../../src/select/logistic-pool';
import { stratifiedFolds } from '../../src/select/stratified-folds';
import { seededRandom } from '../../src/train/seeded-random';

/** Three classes, `cols` features of which the first two carry the class. */
function job(n: number, cols: number, seed: number): LogisticJob {
  const random = seededRandom(seed);
  const labels = Array.from({ length: n }, (_, i) => i % 3);
  const data = new Float64Array(n * cols);
  labels.forEach((label, i) => {
    for (let j = 0; j < cols; j++) data[i * cols + j] = random() - 0.5 + (j < 2 ? 0.4 * (label - 1) * (j + 1) : 0);
  });
  return { features: { data, rows: n, cols }, labels, numClasses: 3, foldOf: stratifiedFolds(labels, 3, 5, 1), strengths: [1, 0.1, 0.01] };
}

describe('the logistic pool', () => {
  it('gives every job exactly what the in-process cross-validation gives, folds of all jobs run on two threads', async () => {
    const jobs = [job(60, 8, 1), job(45, 90, 2)];
    const pool = new LogisticPool(2);
    try {
      const scored = await crossValidatePaths(pool, jobs);
      for (const [j, each] of jobs.entries()) {
        const expected = crossValidateLogistic(each.features, each.labels, each.numClasses, each.foldOf, each.strengths);
        assert.deepEqual(scored[j].path, expected.path);
        assert.equal(scored[j].strength, expected.strength);
        assert.deepEqual([...scored[j].estimate.probabilities], [...expected.estimate.probabilities]);
        const refit = await refitOnPool(pool, each, scored[j]);
        assert.deepEqual([...refit.model.weights], [...expected.model.weights]);
        assert.deepEqual([...refit.standardization.mean], [...expected.standardization.mean]);
      }
    } finally {
      await pool.destroy();
    }
  });

  it('runs in the background and ends its threads when stopped (the run failed elsewhere)', async () => {
    const aside = crossValidateLogisticAside(job(300, 400, 3));
    await aside.stop();
    await assert.rejects(aside.result);
  });
});
