import type * as tf from '@tensorflow/tfjs';
import { evaluateNetwork } from '../train/fit';
import type { LabelledFeatures } from '../train/train-head';
import { passed, type CheckResult } from './check-result';
import type { DoctorCheck } from './doctor-inputs';

const name = 'init.loss-near-ln-classes';
/** Loss above ln(numClasses) by this many nats: the fresh head is already confident, so its initialization or its inputs are off. */
export const warnExcess = 1;
export const failExcess = 3;

/**
 * A freshly initialized head should be unsure: its cross-entropy on the real (standardized)
 * features should be close to ln(numClasses), the loss of uniform predictions.
 */
export function checkInitialLoss(args: { predict: (x: tf.Tensor) => tf.Tensor2D; data: LabelledFeatures; numClasses: number }): CheckResult {
  const { loss, accuracy } = evaluateNetwork(args.predict, args.data, args.numClasses);
  const expected = Math.log(args.numClasses);
  const excess = loss - expected;
  const measured = { loss, expected, excess, accuracy, warnExcess, failExcess };
  const summary = `initial loss ${loss.toFixed(3)} against ln(${args.numClasses}) = ${expected.toFixed(3)}`;
  if (Number.isFinite(loss) && Math.abs(excess) <= warnExcess) return passed(name, summary, measured);
  if (Number.isFinite(loss) && excess < 0) {
    return {
      name,
      status: 'warn',
      detail: `${summary}: an untrained head should not be better than chance by ${(-excess).toFixed(2)} nats`,
      fix: 'check that the labels do not leak into the inputs (e.g. a class told apart by image size or colour model) and that the head is freshly initialized',
      measured,
    };
  }
  return {
    name,
    status: !Number.isFinite(loss) || excess > failExcess ? 'fail' : 'warn',
    detail: `${summary}: the untrained head is confidently wrong (${Number.isFinite(excess) ? `${excess.toFixed(2)} nats too high` : 'not finite'})`,
    fix: 'initialize the head with smaller weights (--initializer truncatedNormal, glorotNormal), and check that the features are standardized (no huge values)',
    measured,
  };
}

export const initialLossCheck: DoctorCheck = {
  name,
  run: async ({ config, train, numClasses, newHead }) => {
    const head = newHead();
    try {
      return checkInitialLoss({ predict: (x) => head.predict(x) as tf.Tensor2D, data: train, numClasses });
    } finally {
      head.dispose();
    }
  },
};
