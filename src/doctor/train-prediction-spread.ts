import { passed, type CheckResult } from './check-result';
import type { DoctorCheck } from './doctor-inputs';

const name = 'train.prediction-spread';
/** Mean top probability, rescaled so that uniform predictions are 0 and certain ones 1, below which predictions count as near uniform. */
export const warnSpread = 0.25;
/** Probabilities that vary less than this across images do not depend on the image. */
export const constantOutput = 1e-5;

/**
 * After a short run, predictions should move from uniform towards 0 and 1: the mean of the top
 * probability per image, against 1/numClasses. Predictions that are the same for every image mean
 * the model ignores its input.
 */
export function checkPredictionSpread(probabilities: number[][], numClasses: number, scoredOn = 'validation'): CheckResult {
  const n = probabilities.length;
  const uniform = 1 / numClasses;
  const topProbabilities = probabilities.map((p) => Math.max(...p));
  const meanTop = topProbabilities.reduce((a, b) => a + b, 0) / Math.max(n, 1);
  const spread = (meanTop - uniform) / (1 - uniform);
  const variation = Math.max(
    ...Array.from({ length: numClasses }, (_, c) => {
      const mean = probabilities.reduce((sum, p) => sum + p[c], 0) / Math.max(n, 1);
      return Math.sqrt(probabilities.reduce((sum, p) => sum + (p[c] - mean) ** 2, 0) / Math.max(n, 1));
    }),
  );
  const histogram = new Array(10).fill(0);
  for (const top of topProbabilities) histogram[Math.min(9, Math.floor(top * 10))]++;
  const measured = { images: n, scoredOn, meanTopProbability: meanTop, uniform, spread, confidentShare: topProbabilities.filter((p) => p > 0.9).length / Math.max(n, 1), largestStdAcrossImages: variation, topProbabilityHistogram: histogram, warnSpread };
  const summary = `mean top probability ${meanTop.toFixed(3)} on ${n} ${scoredOn} images (uniform ${uniform.toFixed(3)}; spread ${spread.toFixed(2)} of the way to certainty)`;
  if (n > 1 && variation < constantOutput) {
    return {
      name,
      status: 'fail',
      detail: `${summary}; the predicted probabilities are the same for every image (largest standard deviation across images ${variation.toExponential(1)})`,
      fix: 'the model ignores its input: check that the features reach the head (not zeroed or constant) and see train.overfits-ten-samples',
      measured,
    };
  }
  if (spread >= warnSpread) return passed(name, summary, measured);
  return {
    name,
    status: 'warn',
    detail: `${summary}: predictions stay near uniform instead of moving towards 0 and 1`,
    fix: 'train longer or at a higher rate (see train.learning-rate-range); if that does not help, the features may not separate the classes: try another depth (--policy auto or --cut-layer)',
    measured,
  };
}

export const predictionSpreadCheck: DoctorCheck = {
  name,
  run: async ({ shortRun, numClasses }) => {
    const run = await shortRun();
    return checkPredictionSpread(run.probabilities, numClasses, run.probabilitiesOf === 'val' ? 'validation' : 'training');
  },
};
