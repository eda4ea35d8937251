import * as tf from '@tensorflow/tfjs';
import { evaluateNetwork, fit, type TrainableNetwork } from '../train/fit';
import { ExponentialDecay } from '../train/learning-rate-schedule';
import { headNetwork, type LabelledFeatures } from '../train/train-head';
import { passed, type CheckResult } from './check-result';
import type { DoctorCheck } from './doctor-inputs';

const name = 'train.overfits-ten-samples';
export const sampleCount = 10;
/** A working model memorizes ten examples: its loss on them falls below this. */
export const targetLoss = 0.05;
export const overfitSteps = 150;
export const overfitLearningRate = 0.01;

/** Up to `count` example indices taking the classes in turn, so that every class (up to ten) is represented. */
export function pickSamples(labels: number[], count = sampleCount): number[] {
  const byClass = new Map<number, number[]>();
  labels.forEach((label, index) => byClass.set(label, [...(byClass.get(label) ?? []), index]));
  const queues = [...byClass.keys()].sort((a, b) => a - b).map((label) => byClass.get(label)!);
  const picked: number[] = [];
  for (let round = 0; picked.length < Math.min(count, labels.length); round++) {
    for (const queue of queues) if (round < queue.length && picked.length < count) picked.push(queue[round]);
  }
  return picked.sort((a, b) => a - b);
}

/**
 * The tuning guide's first test: without dropout or any regularization, the network must drive
 * the loss on ten training examples to about zero. If it cannot, the model or the training code
 * is broken (blocked gradients, nothing trainable, inputs lost on the way), whatever the data.
 * The network is a parameter so that a broken one can be tested.
 */
export async function checkOverfitsTenSamples(args: {
  data: LabelledFeatures;
  numClasses: number;
  network: TrainableNetwork;
  seed: number;
  steps?: number;
  learningRate?: number;
}): Promise<CheckResult> {
  const steps = args.steps ?? overfitSteps;
  const learningRate = args.learningRate ?? overfitLearningRate;
  const trainable = args.network.groups.reduce((sum, group) => sum + group.variables.reduce((n, v) => n + v.size, 0), 0);
  const base = { samples: args.data.labels.length, steps, learningRate, targetLoss, trainableParameters: trainable };
  if (trainable === 0) {
    return {
      name,
      status: 'fail',
      detail: `the network has no trainable parameters: nothing can learn the ${args.data.labels.length} samples`,
      fix: 'the head (or the layers meant to be fine-tuned) is frozen: set trainable on the head layers and rebuild the optimizer',
      measured: base,
    };
  }
  const initial = evaluateNetwork(args.network.predict, args.data, args.numClasses).loss;
  let curve: number[] = [];
  try {
    const result = await fit(args.network, args.data, undefined, args.numClasses, {
      epochs: steps,
      batchSize: args.data.labels.length,
      schedule: new ExponentialDecay(learningRate, 1),
      patience: steps,
      seed: args.seed,
    });
    curve = result.history.map((log) => log.loss);
  } catch (error) {
    return {
      name,
      status: 'fail',
      detail: `training on ${args.data.labels.length} samples threw: ${(error as Error).message}`,
      fix: 'the model or the training code is broken: every trainable variable must be connected to the loss',
      measured: base,
    };
  }
  const final = evaluateNetwork(args.network.predict, args.data, args.numClasses);
  const measured = { ...base, initialLoss: initial, finalLoss: final.loss, finalAccuracy: final.accuracy, lossEvery10Steps: curve.filter((_, i) => i % 10 === 0 || i === curve.length - 1) };
  const summary = `loss on ${args.data.labels.length} training samples went from ${initial.toFixed(3)} to ${final.loss.toFixed(4)} in ${steps} full-batch steps at rate ${learningRate} without dropout`;
  if (final.loss < targetLoss) return passed(name, summary, measured);
  return {
    name,
    status: 'fail',
    detail: `${summary}; a working model gets below ${targetLoss} (accuracy ${final.accuracy.toFixed(2)})`,
    fix: 'the model or the training code is broken: check that gradients reach the head weights, the inputs reach the model (not zeroed or constant), labels stay aligned with their inputs, and the head is trainable',
    measured,
  };
}

export const overfitsTenSamplesCheck: DoctorCheck = {
  name,
  run: async ({ config, train, numClasses, newHead }) => {
    const picked = pickSamples(train.labels);
    const head = newHead({ dropout: 0 });
    const x = tf.gather(train.x, picked) as tf.Tensor2D;
    try {
      return await checkOverfitsTenSamples({ data: { x, labels: picked.map((i) => train.labels[i]) }, numClasses, network: headNetwork(head), seed: config.train.seed });
    } finally {
      x.dispose();
      head.dispose();
    }
  },
};
