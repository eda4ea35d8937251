import * as tf from '@tensorflow/tfjs';
import type { TrainableNetwork } from '../train/fit';
import { headNetwork, type LabelledFeatures } from '../train/train-head';
import { passed, type CheckResult } from './check-result';
import type { DoctorCheck } from './doctor-inputs';
import { recordSteps, type StepRecord } from './step-recorder';

const name = 'train.finite-inputs-and-first-steps';
export const firstSteps = 5;
const listed = 5;

/** Per row of x, how many values are NaN or Inf. */
function nonFinitePerRow(x: tf.Tensor2D): Int32Array {
  return tf.tidy(() => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(x)), 'int32'), 1).dataSync() as Int32Array);
}

function badRows(counts: Int32Array, paths: string[]) {
  const rows = [...counts.keys()].filter((i) => counts[i] > 0);
  return { images: rows.length, values: rows.reduce((sum, i) => sum + counts[i], 0), examples: rows.slice(0, listed).map((i) => paths[i] ?? `#${i}`) };
}

function describeStep(record: StepRecord): string | undefined {
  const problems = [
    ...(Number.isFinite(record.loss) ? [] : [`loss ${record.loss}`]),
    ...(record.nonFiniteGradients.length > 0 ? [`non-finite gradient of ${record.nonFiniteGradients.join(', ')}`] : []),
  ];
  return problems.length ? `step ${record.step + 1}: ${problems.join(' and ')}` : undefined;
}

/**
 * NaN or Inf in the features as extracted, after standardization, or in the loss, gradients and
 * weights of the first steps at the configured learning rate: each is named with where it was found.
 */
export async function checkFiniteInputsAndFirstSteps(args: {
  raw: tf.Tensor2D;
  standardized: LabelledFeatures;
  /** Image of each row, to name the culprits. */
  paths: string[];
  network: TrainableNetwork;
  numClasses: number;
  learningRate: number;
  batchSize: number;
  seed: number;
  steps?: number;
}): Promise<CheckResult> {
  const raw = badRows(nonFinitePerRow(args.raw), args.paths);
  const standardized = badRows(nonFinitePerRow(args.standardized.x), args.paths);
  const measured: Record<string, unknown> = { rawInputs: raw, standardizedInputs: standardized, learningRate: args.learningRate };
  if (raw.images > 0 || standardized.images > 0) {
    const where = raw.images > 0 ? 'the extracted features' : 'the standardized features (the raw ones are finite)';
    const bad = raw.images > 0 ? raw : standardized;
    return {
      name,
      status: 'fail',
      detail: `inputs: ${bad.values} NaN/Inf values in ${where} of ${bad.images} image(s), e.g. ${bad.examples.join(', ')}`,
      fix:
        raw.images > 0
          ? 'delete the cached features (base.cacheDir) and extract again; if it persists, drop the listed images or check the base model weights'
          : 'a feature is constant or huge across the training set; check the extracted features for overflow (try --cut-layer at another depth)',
      measured,
    };
  }
  const steps = await recordSteps(args.network, args.standardized, args.numClasses, {
    steps: args.steps ?? firstSteps,
    batchSize: args.batchSize,
    seed: args.seed,
    rateAt: () => args.learningRate,
    stop: (record) => describeStep(record) !== undefined,
  });
  measured.steps = steps.map(({ step, loss, gradientNorm }) => ({ step, loss, gradientNorm }));
  const broken = steps.map(describeStep).find((problem) => problem !== undefined);
  const weights = args.network.weights.getWeights();
  const nonFiniteWeights = weights.filter((w) => tf.tidy(() => !tf.all(tf.isFinite(w)).dataSync()[0])).length;
  measured.nonFiniteWeights = nonFiniteWeights;
  if (broken || nonFiniteWeights > 0) {
    return {
      name,
      status: 'fail',
      detail: `first steps at learning rate ${args.learningRate}: ${broken ?? `${nonFiniteWeights} weight tensor(s) became NaN/Inf`}`,
      fix: 'lower --learning-rate (see train.learning-rate-range), and check the inputs and the head initialization',
      measured,
    };
  }
  const last = steps[steps.length - 1];
  return passed(
    name,
    `${args.standardized.labels.length}x${args.standardized.x.shape[1]} inputs finite before and after standardization; ${steps.length} steps at rate ${args.learningRate} with finite loss (last ${last.loss.toFixed(3)}) and gradients (norm ${last.gradientNorm.toFixed(3)})`,
    measured,
  );
}

export const finiteInputsAndFirstStepsCheck: DoctorCheck = {
  name,
  run: async ({ config, dataset, rawTrain, train, numClasses, newHead }) => {
    const head = newHead();
    try {
      return await checkFiniteInputsAndFirstSteps({
        raw: rawTrain,
        standardized: train,
        paths: dataset.train.map((r) => r.path),
        network: headNetwork(head),
        numClasses,
        learningRate: config.train.learningRate,
        batchSize: config.train.batchSize,
        seed: config.train.seed,
      });
    } finally {
      head.dispose();
    }
  },
};
