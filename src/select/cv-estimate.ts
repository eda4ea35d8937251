/** A cross-validated estimate: every sample scored once by a model that did not see it. */
export interface CvEstimate {
  /** Pooled out-of-fold accuracy: correct / n. */
  accuracy: number;
  /** Standard deviation of the per-fold accuracies. */
  foldStd: number;
  foldAccuracies: number[];
  /** Mean out-of-fold cross-entropy. */
  logLoss: number;
  n: number;
  folds: number;
  /** Out-of-fold class probabilities, samples x classes row-major. */
  probabilities: Float64Array;
}

/** Accuracy, log loss and the spread over folds of out-of-fold probabilities. */
export function scoreProbabilities(probabilities: Float64Array, labels: number[], numClasses: number, foldOf: number[]): CvEstimate {
  const n = labels.length;
  const folds = foldOf.reduce((max, f) => Math.max(max, f + 1), 0);
  const right = new Array<number>(folds).fill(0);
  const size = new Array<number>(folds).fill(0);
  let correct = 0;
  let logLoss = 0;
  for (let i = 0; i < n; i++) {
    const o = i * numClasses;
    let best = 0;
    for (let k = 1; k < numClasses; k++) if (probabilities[o + k] > probabilities[o + best]) best = k;
    const hit = best === labels[i] ? 1 : 0;
    correct += hit;
    right[foldOf[i]] += hit;
    size[foldOf[i]]++;
    logLoss -= Math.log(Math.max(probabilities[o + labels[i]], 1e-12));
  }
  const foldAccuracies = right.map((r, f) => (size[f] > 0 ? r / size[f] : Number.NaN)).filter((a) => !Number.isNaN(a));
  const mean = foldAccuracies.reduce((a, b) => a + b, 0) / Math.max(foldAccuracies.length, 1);
  const variance = foldAccuracies.reduce((sum, a) => sum + (a - mean) ** 2, 0) / Math.max(foldAccuracies.length - 1, 1);
  return { accuracy: correct / Math.max(n, 1), foldStd: Math.sqrt(variance), foldAccuracies, logLoss: logLoss / Math.max(n, 1), n, folds, probabilities };
}
