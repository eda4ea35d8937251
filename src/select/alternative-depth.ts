import type { Similarity } from '../policy/similarity';

/**
 * The depth cross-validation compares with the plan's cut on small data: the best-scoring other
 * depth of the similarity measurement, however far below the cut it scored. The measurement saw a
 * sample (as few as a few dozen images on small data) with an unsupervised score, and its ranking
 * can be wrong by more than any margin: on 30 Fashion-MNIST images LogME put the top far ahead,
 * where cross-validation and unseen images put `block_13_expand_relu` 12 points higher.
 * Cross-validation on every labelled image settles it; comparing more than two depths picked
 * lower depths on noise (README, "Small data").
 */
export function alternativeDepth(similarity: Similarity, cutLayer: string): string | undefined {
  const others = similarity.scores.filter((s) => s.layer !== cutLayer);
  if (others.length === similarity.scores.length || others.length === 0) return undefined;
  return others.reduce((a, b) => (b.score > a.score ? b : a)).layer;
}
