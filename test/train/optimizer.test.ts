import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crossEntropy, trainableVariables } from '../../src/train/fit';
import { buildHead } from '../../src/train/head';
import { ExponentialDecay } from '../../src/train/learning-rate-schedule';
import { createOptimizer, type OptimizerSettings } from '../../src/train/optimizer';
import { trainHead } from '../../src/train/train-head';
import { labelledClusters, weightsOf, type LabelledFeatures } from '../helpers/labelled-clusters';

const numFeatures = 6;
const numClasses = 3;
let data: LabelledFeatures;

before(async () => {
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  data = labelledClusters({ n: 24, d: numFeatures, K: numClasses, seed: 4 });
});

after(() => data.x.dispose());

function freshHead() {
  return buildHead({ numFeatures, numClasses, dropout: 0, seed: 11 });
}

/** The gradient of the mean cross-entropy over all the data, at the head's current weights. */
function fullBatchGradient(head: tf.Sequential): number[][] {
  return tf.tidy(() => {
    const variables = trainableVariables(head);
    const y = tf.oneHot(tf.tensor1d(data.labels, 'int32'), numClasses) as tf.Tensor2D;
    const { grads } = tf.variableGrads(() => crossEntropy(head.predict(data.x) as tf.Tensor2D, y), variables);
    return variables.map((v) => Array.from(grads[v.name].dataSync()));
  });
}

/** One full-batch step with `optimizer` at `rate`: the weights before and after, and the gradient at the start. */
async function oneStep(optimizer: OptimizerSettings, rate: number, steps = 1) {
  const head = freshHead();
  try {
    const before = weightsOf(head);
    const gradient = fullBatchGradient(head);
    await trainHead(head, data, undefined, numClasses, {
      epochs: steps,
      batchSize: data.labels.length,
      schedule: new ExponentialDecay(rate, 1),
      patience: 100,
      seed: 1,
      optimizer,
    });
    return { before, after: weightsOf(head), gradient };
  } finally {
    head.dispose();
  }
}

function assertStep(run: Awaited<ReturnType<typeof oneStep>>, expected: (g: number) => number, tolerance: number, what: string) {
  run.before.forEach((weights, w) =>
    weights.forEach((value, i) => {
      const step = run.after[w][i] - value;
      const want = expected(run.gradient[w][i]);
      assert.ok(Math.abs(step - want) <= tolerance * Math.max(1, Math.abs(want)), `${what}: weight ${w}[${i}] moved ${step}, expected ${want}`);
    }),
  );
}

describe('optimizers in the training loop', () => {
  test('sgd with momentum 0 takes exactly the hand-computed step -rate x gradient', async () => {
    const run = await oneStep({ name: 'sgd', momentum: 0 }, 0.5);
    assertStep(run, (g) => -0.5 * g, 1e-4, 'sgd');
  });

  test('adam: the first step is -rate x sign(gradient) (bias-corrected m / sqrt(v))', async () => {
    const run = await oneStep({ name: 'adam' }, 0.01);
    assertStep(run, (g) => (Math.abs(g) < 1e-5 ? -0.01 * Math.sign(g) * (Math.abs(g) / (Math.abs(g) + 1e-7)) : -0.01 * Math.sign(g)), 2e-3, 'adam');
  });

  test('rmsprop (decay 0.9): the first step is -rate x gradient / sqrt(0.1 x gradient^2) = -rate x sign x sqrt(10)', async () => {
    const run = await oneStep({ name: 'rmsprop' }, 0.01);
    assertStep(run, (g) => -0.01 * g / Math.sqrt(0.1 * g * g + 1e-7), 2e-3, 'rmsprop');
  });

  test('sgd momentum carries the first step into the second', async () => {
    const plain = await oneStep({ name: 'sgd', momentum: 0 }, 0.5, 2);
    const heavy = await oneStep({ name: 'sgd', momentum: 0.9 }, 0.5, 2);
    // Same first step; the second adds 0.9 x the first for momentum 0.9.
    const move = (run: typeof plain) => run.after.flat().map((v, i) => v - run.before.flat()[i]);
    const firstStep = plain.gradient.flat().map((g) => -0.5 * g);
    const extra = move(heavy).map((v, i) => v - move(plain)[i]);
    // To first order the second gradients agree; momentum's extra movement is 0.9 x the first step.
    const ratio = extra.reduce((sum, v, i) => sum + v * firstStep[i], 0) / firstStep.reduce((sum, v) => sum + v * v, 0);
    assert.ok(Math.abs(ratio - 0.9) < 0.1, `momentum share of the first step ${ratio}`);
  });

  test('createOptimizer refuses an unknown name and a momentum outside [0, 1)', () => {
    assert.throws(() => createOptimizer({ name: 'adagrad' as 'adam' }, 0.1), /Received optimizer "adagrad"\. Expected sgd, adam or rmsprop\./);
    assert.throws(() => createOptimizer({ name: 'sgd', momentum: 1 }, 0.1), /Received momentum=1\. Expected a number in \[0, 1\)\./);
  });

  test('setLearningRate changes the step of every optimizer', async () => {
    for (const name of ['sgd', 'adam', 'rmsprop'] as const) {
      const rated = createOptimizer({ name, momentum: 0 }, 1);
      const v = tf.variable(tf.tensor1d([1, -2, 3]));
      try {
        rated.setLearningRate(0);
        const before = Array.from(v.dataSync());
        tf.tidy(() => rated.optimizer.applyGradients([{ name: v.name, tensor: tf.tensor1d([0.5, 0.5, -0.5]) }]));
        assert.deepEqual(Array.from(v.dataSync()), before, `${name}: rate 0 must not move the weights`);
      } finally {
        rated.dispose();
        v.dispose();
      }
    }
  });
});
