import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeSimilarity } from '../../src/policy/similarity';

const depths = (...scores: number[]) => scores.map((score, i) => ({ layer: `d${i}`, score }));

describe('judgeSimilarity', () => {
  it('calls data similar when transfer peaks at the top depth', () => {
    const judged = judgeSimilarity(depths(0.1, 0.2, 0.5), 0.1, 100);
    assert.equal(judged.category, 'similar');
    assert.equal(judged.best, 'd2');
    assert.match(judged.reason, /peaks at the top/);
  });

  it('calls data different when transfer peaks lower, naming the best depth', () => {
    const judged = judgeSimilarity(depths(0.1, 0.5, 0.2), 0.1, 100);
    assert.equal(judged.category, 'different');
    assert.equal(judged.best, 'd1');
    assert.match(judged.reason, /peaks below the top, at d1/);
  });

  it('counts the top as the peak when it is within the margin of the score range', () => {
    // range 0.4, gap 0.03: within 10% (0.04) but not within 5% (0.02)
    assert.equal(judgeSimilarity(depths(0.1, 0.5, 0.47), 0.1, 100).category, 'similar');
    assert.equal(judgeSimilarity(depths(0.1, 0.5, 0.47), 0.05, 100).category, 'different');
  });

  it('treats a tie between the top and a lower depth as similar', () => {
    assert.equal(judgeSimilarity(depths(0.5, 0.2, 0.5), 0, 100).category, 'similar');
  });

  it('reports nothing measured without scores', () => {
    assert.equal(judgeSimilarity([], 0.1, 0).category, 'not-measured');
  });

  it('names the metric that scored the depths', () => {
    assert.match(judgeSimilarity(depths(0.1, 0.5), 0.1, 100).reason, /LogME on 100 images/);
    const probe = judgeSimilarity(depths(0.9, 0.8), 0.1, 100, 'probe');
    assert.equal(probe.metric, 'probe');
    assert.match(probe.reason, /linear-probe accuracy on 100 images/);
  });
});
