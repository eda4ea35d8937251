import type { Similarity } from '../policy/similarity';

/**
 * The depth cross-validation compares with the plan's cut on small data: the best-scoring other
 * depth the similarity measurement scored, when it scored within `margin` of the score range of the
 * cut (or above it: the plan may read the top although a lower depth scored higher, when they were
 * close). The measurement saw a sample of a few hundred images with an unsupervised score;
 * cross-validation on every labelled image settles what it could not tell apart.
 */
export function alternativeDepth(similarity: Similarity, cutLayer: string, margin: number): string | undefined {
  const { scores } = similarity;
  const cut = scores.find((s) => s.layer === cutLayer);
  if (!cut || scores.length < 2) return undefined;
  const others = scores.filter((s) => s.layer !== cutLayer);
  const runnerUp = others.reduce((a, b) => (b.score > a.score ? b : a));
  const range = Math.max(...scores.map((s) => s.score)) - Math.min(...scores.map((s) => s.score));
  return runnerUp.score >= cut.score - margin * range ? runnerUp.layer : undefined;
}
