import type { CrossValidatedLogistic } from './cross-validated-logistic';
import { crossValidateLogisticAside } from './logistic-aside';
import type { FeatureMatrix } from './logistic-regression';

/** What plan/train --json, the export's metadata and the report say about the depth cross-validation chose. */
export interface DepthSelection {
  method: 'cross-validation';
  /** Each depth's logistic-regression baseline, cross-validated on the same folds. */
  candidates: { layer: string; accuracy: number; foldStd: number; logLoss: number; n: number }[];
  chosen: string;
  reason: string;
}

export interface DepthCandidate {
  layer: string;
  features: FeatureMatrix;
}

/**
 * The cross-validated logistic regression on each depth's features (two worker threads), on the same
 * folds; the plan's depth (the first) is kept unless another scores a higher out-of-fold accuracy
 * (equal accuracy: a lower log loss). Returns the choice and every depth's baseline.
 */
export async function selectDepth(args: {
  candidates: DepthCandidate[];
  labels: number[];
  numClasses: number;
  foldOf: number[];
  strengths: number[];
}): Promise<{ selection: DepthSelection; chosen: number; baselines: CrossValidatedLogistic[] }> {
  const asides = args.candidates.map((candidate) =>
    crossValidateLogisticAside({ features: candidate.features, labels: args.labels, numClasses: args.numClasses, foldOf: args.foldOf, strengths: args.strengths }),
  );
  const baselines = await Promise.all(asides.map((aside) => aside.result)).catch(async (error: unknown) => {
    await Promise.all(asides.map((aside) => aside.stop()));
    throw error;
  });
  let chosen = 0;
  baselines.forEach(({ estimate }, i) => {
    const best = baselines[chosen].estimate;
    if (estimate.accuracy > best.accuracy || (estimate.accuracy === best.accuracy && estimate.logLoss < best.logLoss)) chosen = i;
  });
  const candidates = args.candidates.map(({ layer }, i) => {
    const { accuracy, foldStd, logLoss, n } = baselines[i].estimate;
    return { layer, accuracy, foldStd, logLoss, n };
  });
  const [planned, other] = [candidates[0], candidates[chosen === 0 ? 1 : chosen]];
  const scored = (c: (typeof candidates)[number]) => `${c.layer} ${c.accuracy.toFixed(3)}`;
  const reason =
    chosen === 0
      ? `Cross-validated on all ${planned.n} images, the logistic regression reads the plan's depth at least as well: ${scored(planned)} against ${scored(other)}; the plan's depth is kept.`
      : `Cross-validated on all ${planned.n} images, the logistic regression reads ${other.layer} better than the plan's depth: ${scored(other)} against ${scored(planned)}; the head reads ${other.layer}.`;
  return { selection: { method: 'cross-validation', candidates, chosen: candidates[chosen].layer, reason }, chosen, baselines };
}
