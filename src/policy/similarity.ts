export type SimilarityMetric = 'logme' | 'probe';

/** Transferability of the frozen features at one depth. */
export interface DepthScore {
  layer: string;
  /** LogME evidence per example, or linear-probe accuracy: higher transfers better. */
  score: number;
}

export interface Similarity {
  category: 'similar' | 'different' | 'not-measured';
  /** Candidate depths from the bottom up; the last is the top feature map. */
  scores: DepthScore[];
  /** The depth that scored highest. */
  best?: string;
  metric?: SimilarityMetric;
  /** Training images the scores were computed on. */
  sampleSize?: number;
  /** At the best depth below the top: 3-fold linear-probe accuracy of whole-image and 2x2-grid pooling. */
  pooling?: { layer: string; average: number; grid: number };
  reason: string;
}

const metricName: Record<SimilarityMetric, string> = { logme: 'LogME', probe: '3-fold linear-probe accuracy' };

/**
 * Similar when transferability peaks at the top: the top depth scores within `margin` of the
 * score range below the best depth. Otherwise the data differ from what the top layers learned,
 * and the best depth says where the features stop transferring.
 */
export function judgeSimilarity(scores: DepthScore[], margin: number, sampleSize: number, metric: SimilarityMetric = 'logme'): Similarity {
  if (scores.length === 0) return { category: 'not-measured', scores, reason: 'No depth was scored.' };
  const top = scores[scores.length - 1];
  const best = scores.reduce((a, b) => (b.score > a.score ? b : a));
  const lowest = Math.min(...scores.map((s) => s.score));
  const range = best.score - lowest;
  const gap = best.score - top.score;
  const similar = gap <= margin * range;
  const fmt = (x: number) => x.toFixed(3);
  return {
    category: similar ? 'similar' : 'different',
    scores,
    best: best.layer,
    metric,
    sampleSize,
    reason: similar
      ? `Transferability (${metricName[metric]} on ${sampleSize} images) peaks at the top: ${top.layer} scores ${fmt(top.score)}, ` +
        `within ${Math.round(margin * 100)}% of the score range of the best depth (${best.layer}, ${fmt(best.score)}), so the data are similar to the base's pretraining data.`
      : `Transferability (${metricName[metric]} on ${sampleSize} images) peaks below the top, at ${best.layer} (${fmt(best.score)}) against ` +
        `${fmt(top.score)} at ${top.layer}, so the data differ from what the top layers learned.`,
  };
}
