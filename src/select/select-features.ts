import type { Pooling } from '../models/grid-pooling';
import type { FeatureMatrix } from './logistic-regression';
import { asideOn, crossValidatePaths, LogisticPool, refitOnPool, type LogisticAside, type LogisticJob } from './logistic-pool';

/** Features the head may read: a depth and how its map is pooled. */
export interface FeatureReadout {
  layer: string;
  pooling: Pooling;
}

/** What plan/train --json, the export's metadata and the report say about the features cross-validation chose. */
export interface FeatureSelection {
  method: 'cross-validation';
  /** Each readout's logistic-regression baseline, cross-validated on the same folds; the plan's first. */
  candidates: (FeatureReadout & { accuracy: number; foldStd: number; logLoss: number; n: number })[];
  chosen: FeatureReadout;
  reason: string;
}

export const readoutName = ({ layer, pooling }: FeatureReadout) => `${layer}, ${pooling === 'grid' ? '2x2 grid' : 'average'}`;

/**
 * The cross-validated logistic regression on each readout's features (worker threads), on the same
 * folds; the plan's readout (the first) is kept unless another scores a higher out-of-fold accuracy
 * (equal accuracy: a lower log loss). Returns the choice and the chosen readout's baseline, whose
 * refit on every image is still running: the head's cross-validation can start beside it.
 */
export async function selectFeatures(args: {
  candidates: (FeatureReadout & { features: FeatureMatrix })[];
  labels: number[];
  numClasses: number;
  foldOf: number[];
  strengths: number[];
  /** Each fold path that ended, of all readouts' (how many of how many). */
  onFold?: (done: number, total: number) => void;
}): Promise<{ selection: FeatureSelection; chosen: number; baseline: LogisticAside }> {
  const jobs: LogisticJob[] = args.candidates.map(({ features }) => ({ features, labels: args.labels, numClasses: args.numClasses, foldOf: args.foldOf, strengths: args.strengths }));
  const pool = new LogisticPool();
  const scored = await crossValidatePaths(pool, jobs, args.onFold).catch(async (error: unknown) => {
    await pool.destroy();
    throw error;
  });
  let chosen = 0;
  scored.forEach(({ estimate }, i) => {
    const best = scored[chosen].estimate;
    if (estimate.accuracy > best.accuracy || (estimate.accuracy === best.accuracy && estimate.logLoss < best.logLoss)) chosen = i;
  });
  const baseline = { ...asideOn(pool, refitOnPool(pool, jobs[chosen], scored[chosen])), folds: scored[chosen].folds };
  const candidates = args.candidates.map(({ layer, pooling }, i) => {
    const { accuracy, foldStd, logLoss, n } = scored[i].estimate;
    return { layer, pooling, accuracy, foldStd, logLoss, n };
  });
  const described = (c: (typeof candidates)[number]) => `${readoutName(c)} ${c.accuracy.toFixed(3)}`;
  const others = candidates.filter((_, i) => i !== chosen).map(described).join(', ');
  const reason =
    chosen === 0
      ? `Cross-validated on all ${candidates[0].n} images, the logistic regression reads the plan's features (${described(candidates[0])}) at least as well as ${others}; they are kept.`
      : `Cross-validated on all ${candidates[0].n} images, the logistic regression reads ${described(candidates[chosen])} better than ${others}; the head reads ${readoutName(candidates[chosen])}.`;
  const { layer, pooling } = candidates[chosen];
  return { selection: { method: 'cross-validation', candidates, chosen: { layer, pooling }, reason }, chosen, baseline };
}
