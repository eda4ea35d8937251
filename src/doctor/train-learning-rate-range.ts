import type { LabelledData, TrainableNetwork } from '../train/fit';
import { headNetwork } from '../train/train-head';
import { passed, type CheckResult } from './check-result';
import type { DoctorCheck } from './doctor-inputs';
import { recordSteps } from './step-recorder';

const name = 'train.learning-rate-range';
export const rangeSteps = 100;
export const minRate = 1e-6;
export const maxRate = 1;
/** Weight of the past in the exponential moving average of the loss. */
const smoothing = 0.9;
/** The test stops once the smoothed loss exceeds its best by this factor: the rate is too high. */
const divergence = 4;
/** The smoothed loss must fall at least this much below where it started, at some rate, or nothing learns. */
const minimumImprovement = 0.05;

export interface RangePoint {
  learningRate: number;
  loss: number;
  smoothedLoss: number;
}

/**
 * Picks the rate where the smoothed loss falls fastest against log(rate), and the rate of the
 * lowest smoothed loss. Slopes are taken over a window of points to average out batch noise.
 */
export function suggestRate(points: RangePoint[]): { steepest: number; minimum: number; suggested: number } {
  const best = points.reduce((b, p, i) => (p.smoothedLoss < points[b].smoothedLoss ? i : b), 0);
  const window = 3;
  let steepest = 0;
  let steepestSlope = Infinity;
  for (let i = window; i <= best; i++) {
    const slope = (points[i].smoothedLoss - points[i - window].smoothedLoss) / Math.log10(points[i].learningRate / points[i - window].learningRate);
    if (slope < steepestSlope) {
      steepestSlope = slope;
      steepest = i - Math.floor(window / 2);
    }
  }
  const minimum = points[best].learningRate;
  // The steepest descent is the classic suggestion; a tenth of the rate of the lowest loss bounds it from above.
  const suggested = Math.min(points[steepest].learningRate, minimum / 10);
  return { steepest: points[steepest].learningRate, minimum, suggested };
}

/**
 * Learning-rate range test (Smith 2017; fastai's lr_find): one step per rate, the rate growing
 * exponentially from minRate to maxRate, stopping when the loss diverges; suggests a rate.
 */
export async function checkLearningRateRange(args: {
  network: TrainableNetwork;
  data: LabelledData;
  numClasses: number;
  batchSize: number;
  seed: number;
  configuredRate: number;
  steps?: number;
}): Promise<CheckResult> {
  const steps = args.steps ?? rangeSteps;
  const rateAt = (step: number) => minRate * (maxRate / minRate) ** (step / (steps - 1));
  let average = 0;
  let best = Infinity;
  const points: RangePoint[] = [];
  await recordSteps(args.network, args.data, args.numClasses, {
    steps,
    batchSize: args.batchSize,
    seed: args.seed,
    rateAt,
    stop: (record) => {
      if (!Number.isFinite(record.loss)) return true;
      average = smoothing * average + (1 - smoothing) * record.loss;
      const smoothedLoss = average / (1 - smoothing ** (record.step + 1));
      points.push({ learningRate: record.learningRate, loss: record.loss, smoothedLoss });
      best = Math.min(best, smoothedLoss);
      return smoothedLoss > divergence * best;
    },
  });
  const measured: Record<string, unknown> = { steps: points.length, minRate, maxRate, batchSize: args.batchSize, configuredRate: args.configuredRate, curve: points };
  if (points.length < 5) {
    return {
      name,
      status: 'fail',
      detail: `the loss was not finite from the first steps on (${points.length} finite points), even at rate ${minRate}`,
      fix: 'see train.finite-inputs-and-first-steps: the inputs or the initialization are broken',
      measured,
    };
  }
  const start = points[0].smoothedLoss;
  const lowest = Math.min(...points.map((p) => p.smoothedLoss));
  const { steepest, minimum, suggested } = suggestRate(points);
  Object.assign(measured, { startLoss: start, lowestLoss: lowest, steepestRate: steepest, minimumLossRate: minimum, suggestedRate: suggested });
  if (lowest > start * (1 - minimumImprovement)) {
    return {
      name,
      status: 'fail',
      detail: `the loss did not fall at any rate from ${minRate} to ${points[points.length - 1].learningRate.toPrecision(2)} (from ${start.toFixed(3)}, lowest ${lowest.toFixed(3)})`,
      fix: 'nothing learns: see train.overfits-ten-samples; check that the inputs carry information and the labels match them',
      measured,
    };
  }
  const summary = `loss fell fastest at rate ${steepest.toPrecision(2)} and was lowest at ${minimum.toPrecision(2)}; suggested learning rate ${suggested.toPrecision(2)} (configured ${args.configuredRate})`;
  // Within a factor of ten below the suggestion (and below the rate of the lowest loss) the configured rate is reasonable.
  if (args.configuredRate >= suggested / 10 && args.configuredRate < minimum) return passed(name, summary, measured);
  return {
    name,
    status: 'warn',
    detail: `${summary}: the configured rate is ${args.configuredRate >= minimum ? 'at or above the rate where the loss stops falling' : 'more than ten times below the suggestion'}`,
    fix: `train with --learning-rate ${suggested.toPrecision(2)}`,
    measured,
  };
}

export const learningRateRangeCheck: DoctorCheck = {
  name,
  run: async ({ config, train, numClasses, newHead }) => {
    const head = newHead();
    try {
      return await checkLearningRateRange({
        network: headNetwork(head),
        data: train,
        numClasses,
        batchSize: config.train.batchSize,
        seed: config.train.seed,
        configuredRate: config.train.learningRate,
      });
    } finally {
      head.dispose();
    }
  },
};
