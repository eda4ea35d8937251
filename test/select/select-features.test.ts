import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DepthScore, Similarity } from '../../src/policy/similarity';
import { alternativeDepth } from '../../src/select/alternative-depth';
import { selectFeatures } from '../../src/select/select-features';
import { stratifiedFolds } from '../../src/select/stratified-folds';
import { seededRandom } from '../../src/train/seeded-random';

const similarity = (scores: [string, number][]): Similarity => ({
  category: 'different',
  scores: scores.map(([layer, score]): DepthScore => ({ layer, score })),
  reason: '',
});

describe('alternativeDepth', () => {
  const scores = similarity([
    ['a', -0.3],
    ['b', -0.1],
    ['c', -0.12],
    ['top', -0.13],
  ]);

  it('offers the best-scoring other depth, above or however far below the cut', () => {
    assert.equal(alternativeDepth(scores, 'top'), 'b'); // b scored above the cut the plan chose
    assert.equal(alternativeDepth(scores, 'b'), 'c');
    assert.equal(alternativeDepth(similarity([['a', -0.9], ['b', -0.1]]), 'b'), 'a'); // 0.8 below: still compared
  });

  it('offers none when nothing else was measured, or the cut was not scored', () => {
    assert.equal(alternativeDepth(similarity([]), 'top'), undefined);
    assert.equal(alternativeDepth(similarity([['top', -0.1]]), 'top'), undefined);
    assert.equal(alternativeDepth(scores, 'not-scored'), undefined);
  });
});

/** Two classes; `informative` features separate them, the others are noise. */
function features(n: number, cols: number, informative: boolean, seed: number) {
  const random = seededRandom(seed);
  const labels = Array.from({ length: n }, (_, i) => i % 2);
  const data = new Float64Array(n * cols);
  labels.forEach((label, i) => {
    for (let j = 0; j < cols; j++) data[i * cols + j] = random() - 0.5 + (informative && j < 3 ? (label ? 0.6 : -0.6) : 0);
  });
  return { labels, matrix: { data, rows: n, cols } };
}

describe('selectFeatures', () => {
  it('keeps the depth whose features the cross-validated baseline reads better, on the same folds', async () => {
    const noise = features(40, 12, false, 1);
    const signal = features(40, 12, true, 2);
    const foldOf = stratifiedFolds(noise.labels, 2, 4, 0);
    const run = (first: typeof noise, second: typeof noise) =>
      selectFeatures({
        candidates: [
          { layer: 'first', pooling: 'average', features: first.matrix },
          { layer: 'second', pooling: 'grid', features: second.matrix },
        ],
        labels: noise.labels,
        numClasses: 2,
        foldOf,
        strengths: [1, 0.1],
      });
    const switched = await run(noise, signal);
    assert.deepEqual(switched.selection.chosen, { layer: 'second', pooling: 'grid' });
    assert.equal(switched.chosen, 1);
    assert.ok(switched.selection.candidates[1].accuracy > 0.9 && switched.selection.candidates[0].accuracy < 0.8);
    assert.match(switched.selection.reason, /reads second, 2x2 grid \d\.\d+ better than first, average/);
    // The chosen readout's baseline: its estimate, refitted on every image (2 classes: one weight column per class).
    const baseline = await switched.baseline.result;
    assert.equal(baseline.estimate.accuracy, switched.selection.candidates[1].accuracy);
    assert.equal(baseline.model.weights.length, signal.matrix.cols * 2);
    const kept = await run(signal, noise);
    await kept.baseline.result;
    assert.deepEqual(kept.selection.chosen, { layer: 'first', pooling: 'average' });
    assert.match(kept.selection.reason, /kept/);
  });

  it('reports every fold path of every readout as it ends', async () => {
    const { labels, matrix } = features(40, 12, true, 3);
    const reported: string[] = [];
    const { baseline } = await selectFeatures({
      candidates: [
        { layer: 'first', pooling: 'average', features: matrix },
        { layer: 'first', pooling: 'grid', features: matrix },
      ],
      labels,
      numClasses: 2,
      foldOf: stratifiedFolds(labels, 2, 4, 0),
      strengths: [1, 0.1],
      onFold: (done, total) => reported.push(`${done}/${total}`),
    });
    await baseline.result;
    assert.deepEqual(reported, ['1/8', '2/8', '3/8', '4/8', '5/8', '6/8', '7/8', '8/8']);
  });
});
