import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PreparedDoctorInputs } from '../../src/doctor/doctor-pipeline';
import type { DoctorInputs } from '../../src/doctor/doctor-inputs';
import { checkInitialLoss } from '../../src/doctor/init-loss-near-ln-classes';
import { checkFiniteInputsAndFirstSteps } from '../../src/doctor/train-finite-inputs-and-first-steps';
import { checkGeneralizationGap } from '../../src/doctor/train-generalization-gap';
import { checkLearningRateRange } from '../../src/doctor/train-learning-rate-range';
import { checkOverfitsTenSamples, pickSamples } from '../../src/doctor/train-overfits-ten-samples';
import { checkPredictionSpread } from '../../src/doctor/train-prediction-spread';
import { shortRun } from '../../src/doctor/short-run';
import { applyHeadTraining, type TrainableNetwork } from '../../src/train/fit';
import { ExponentialDecay } from '../../src/train/learning-rate-schedule';
import { headNetwork, type LabelledFeatures } from '../../src/train/train-head';
import { prepareSampleInputs } from './sample-inputs';

let prepared: PreparedDoctorInputs;
let inputs: DoctorInputs;
const heads: tf.Sequential[] = [];

/** A fresh head as doctor builds it, disposed after the tests. */
function head(options: { dropout?: number } = {}): tf.Sequential {
  const built = inputs.newHead(options);
  heads.push(built);
  return built;
}

/** Multiplies the head's dense kernels (and zeroes its biases when scale < 1) to make it over- or under-confident. */
function scaled(model: tf.Sequential, scale: number): tf.Sequential {
  for (const layer of model.layers.filter((l) => l.getClassName() === 'Dense')) {
    const [kernel, bias] = layer.getWeights();
    const replaced = tf.tidy(() => [tf.mul(kernel, scale), scale < 1 ? tf.zerosLike(bias) : bias.clone()]);
    layer.setWeights(replaced);
    tf.dispose(replaced);
  }
  return model;
}

/** A network that never sees its inputs: a broken data path. */
function inputsZeroed(model: tf.Sequential): TrainableNetwork {
  const real = headNetwork(model);
  return { ...real, forwardTraining: (x, random) => real.forwardTraining(tf.zerosLike(x), random), predict: (x) => real.predict(tf.zerosLike(x)) };
}

/** A network whose rows are shuffled within the batch at every step: inputs and labels no longer line up. */
function labelsShuffledEachStep(model: tf.Sequential): TrainableNetwork {
  const real = headNetwork(model);
  return {
    ...real,
    forwardTraining: (x, random) => {
      const order = Array.from({ length: x.shape[0] }, (_, i) => i).sort(() => random() - 0.5);
      return applyHeadTraining(model, tf.gather(x, tf.tensor1d(order, 'int32')), random);
    },
  };
}

function tenSamples(): LabelledFeatures {
  const picked = pickSamples(inputs.train.labels);
  return { x: tf.gather(inputs.train.x, picked) as tf.Tensor2D, labels: picked.map((i) => inputs.train.labels[i]) };
}

before(async () => {
  prepared = await prepareSampleInputs({ classes: 3, perClass: 16 });
  inputs = prepared.inputs;
});

after(() => {
  heads.forEach((h) => h.dispose());
  prepared.dispose();
});

describe('train.finite-inputs-and-first-steps', () => {
  const check = (overrides: Partial<Parameters<typeof checkFiniteInputsAndFirstSteps>[0]>) =>
    checkFiniteInputsAndFirstSteps({
      raw: inputs.rawTrain,
      standardized: inputs.train,
      paths: inputs.dataset.train.map((r) => r.path),
      network: headNetwork(head()),
      numClasses: inputs.numClasses,
      learningRate: inputs.config.train.learningRate,
      batchSize: inputs.config.train.batchSize,
      seed: 1,
      ...overrides,
    });

  it('passes on real features and a fresh head', async () => {
    const result = await check({});
    assert.equal(result.status, 'pass', result.detail);
    assert.equal((result.measured.steps as unknown[]).length, 5);
  });

  it('fails naming the image whose features hold a NaN', async () => {
    const poisoned = tf.tidy(() => {
      const mask = tf.oneHot(tf.tensor1d([3], 'int32'), inputs.train.labels.length).reshape([-1, 1]);
      return tf.where(tf.cast(tf.mul(mask, tf.onesLike(inputs.rawTrain)), 'bool'), tf.fill(inputs.rawTrain.shape, NaN), inputs.rawTrain) as tf.Tensor2D;
    });
    try {
      const result = await check({ raw: poisoned });
      assert.equal(result.status, 'fail');
      assert.match(result.detail, /^inputs: /);
      assert.ok(result.detail.includes(inputs.dataset.train[3].path), result.detail);
    } finally {
      poisoned.dispose();
    }
  });

  it('fails naming the step and the loss when the weights turn the loss into NaN', async () => {
    const broken = head();
    const dense = broken.layers.find((l) => l.getClassName() === 'Dense')!;
    const [kernel, bias] = dense.getWeights();
    const nan = tf.fill(kernel.shape, NaN);
    dense.setWeights([nan, bias]);
    nan.dispose();
    const result = await check({ network: headNetwork(broken) });
    assert.equal(result.status, 'fail');
    // On wasm, clipByValue turns NaN into its lower bound, so crossEntropy can stay finite while the gradients are NaN.
    assert.match(result.detail, /step 1: .*non-finite gradient of head_probabilities\/kernel/);
  });
});

describe('init.loss-near-ln-classes', () => {
  it('passes for the freshly initialized head on real features', () => {
    const fresh = head();
    const result = checkInitialLoss({ predict: (x) => fresh.predict(x) as tf.Tensor2D, data: inputs.train, numClasses: inputs.numClasses });
    assert.equal(result.status, 'pass', result.detail);
    assert.ok(Math.abs(result.measured.excess as number) <= 1);
  });

  it('fails for a head initialized 30 times too large', () => {
    const loud = scaled(head(), 30);
    const result = checkInitialLoss({ predict: (x) => loud.predict(x) as tf.Tensor2D, data: inputs.train, numClasses: inputs.numClasses });
    assert.equal(result.status, 'fail', result.detail);
    assert.ok((result.measured.excess as number) > 3);
  });
});

describe('train.overfits-ten-samples', () => {
  const overfit = async (network: (model: tf.Sequential) => TrainableNetwork) => {
    const data = tenSamples();
    try {
      return await checkOverfitsTenSamples({ data, numClasses: inputs.numClasses, network: network(head({ dropout: 0 })), seed: 3 });
    } finally {
      data.x.dispose();
    }
  };

  it('passes for the real head on real features: the loss on ten samples falls below 0.05', async () => {
    const result = await overfit(headNetwork);
    assert.equal(result.status, 'pass', result.detail);
    assert.equal(result.measured.samples, 10);
    assert.ok((result.measured.finalLoss as number) < 0.05);
  });

  it('fails when the inputs never reach the head', async () => {
    const result = await overfit(inputsZeroed);
    assert.equal(result.status, 'fail', result.detail);
    assert.ok((result.measured.finalLoss as number) > 0.5);
  });

  it('fails when the labels are shuffled against the inputs at every step', async () => {
    const result = await overfit(labelsShuffledEachStep);
    assert.equal(result.status, 'fail', result.detail);
  });

  it('fails when the head is frozen (no trainable variables)', async () => {
    const result = await overfit((model) => {
      model.trainable = false;
      return headNetwork(model);
    });
    assert.equal(result.status, 'fail');
    assert.match(result.detail, /no trainable parameters/);
  });
});

describe('train.learning-rate-range', () => {
  const range = (network: TrainableNetwork, configuredRate: number) =>
    checkLearningRateRange({ network, data: inputs.train, numClasses: inputs.numClasses, batchSize: 16, seed: 5, configuredRate });

  it('suggests a rate from the curve on real features, and warns when the configured rate is far below it', async () => {
    const result = await range(headNetwork(head()), 1e-7);
    assert.equal(result.status, 'warn', result.detail);
    const suggested = result.measured.suggestedRate as number;
    assert.ok(suggested >= 1e-5 && suggested <= 0.5, `suggested ${suggested}`);
    assert.ok(result.fix.includes(`--learning-rate ${suggested.toPrecision(2)}`), result.fix);
    const curve = result.measured.curve as { learningRate: number; smoothedLoss: number }[];
    assert.ok(curve.length >= 30, `${curve.length} points`);
    assert.ok(curve.every((p, i) => i === 0 || p.learningRate > curve[i - 1].learningRate));
    assert.ok((result.measured.lowestLoss as number) < 0.5 * (result.measured.startLoss as number));

    const configuredNearSuggestion = await range(headNetwork(head()), suggested);
    assert.equal(configuredNearSuggestion.status, 'pass', configuredNearSuggestion.detail);
  });

  it('fails when the loss falls at no rate (inputs zeroed)', async () => {
    const result = await range(inputsZeroed(head()), 0.005);
    assert.equal(result.status, 'fail', result.detail);
  });
});

describe('train.generalization-gap and train.prediction-spread after a short run', () => {
  const run = (train: LabelledFeatures, epochs: number) =>
    shortRun({
      head: head(),
      train,
      val: inputs.val,
      numClasses: inputs.numClasses,
      options: { epochs, batchSize: 16, schedule: new ExponentialDecay(0.005, 0.95), patience: 100, seed: 7 },
    });

  it('pass on the real split', async () => {
    const result = await run(inputs.train, 10);
    assert.equal(result.probabilitiesOf, 'val');
    const gap = checkGeneralizationGap(result);
    assert.equal(gap.status, 'pass', gap.detail);
    const spread = checkPredictionSpread(result.probabilities, inputs.numClasses);
    assert.equal(spread.status, 'pass', spread.detail);
    assert.equal(spread.measured.images, inputs.val!.labels.length);
  });

  it('the gap warns when the head memorizes training labels that do not match the images', async () => {
    const labels = inputs.train.labels.map((_, i, all) => all[(i * 7 + 3) % all.length]);
    const result = await run({ x: inputs.train.x, labels }, 40);
    const gap = checkGeneralizationGap(result);
    assert.equal(gap.status, 'warn', gap.detail);
    // Early stopping restores the best validation epoch, so the overfitting shows in the curves.
    assert.equal(gap.measured.valLossRisingWhileTrainFalls, true, JSON.stringify(gap.measured));
    assert.match(gap.detail, /validation loss rose after epoch/);
  });

  it('the spread warns for near-uniform predictions and fails for predictions that ignore the image', () => {
    const timid = scaled(head(), 0.01);
    const nearUniform = tf.tidy(() => (timid.predict(inputs.val!.x) as tf.Tensor2D).arraySync());
    const warned = checkPredictionSpread(nearUniform, inputs.numClasses);
    assert.equal(warned.status, 'warn', warned.detail);

    const blind = head();
    const constant = tf.tidy(() => (blind.predict(tf.zerosLike(inputs.val!.x)) as tf.Tensor2D).arraySync());
    const failed = checkPredictionSpread(constant, inputs.numClasses);
    assert.equal(failed.status, 'fail', failed.detail);
  });
});

describe('train.generalization-gap thresholds', () => {
  const history = (epochs: number) => Array.from({ length: epochs }, (_, epoch) => ({ epoch, learningRate: 0.005, loss: 1 / (epoch + 1), accuracy: 0.9, valLoss: 1 / (epoch + 1), valAccuracy: 0.8, seconds: 0.1 }));
  const runWith = (train: number, val: number, valImages: number) => ({
    epochs: 5,
    history: history(5),
    train: { loss: 0.1, accuracy: train },
    val: { loss: 0.4, accuracy: val },
    probabilities: Array.from({ length: valImages }, () => [0.9, 0.1]),
    probabilitiesOf: 'val' as const,
  });

  it('warns at a 30-point accuracy gap on 60 validation images, not at 10 points on 10 images (one image is 10 points)', () => {
    assert.equal(checkGeneralizationGap(runWith(1, 0.7, 60)).status, 'warn');
    assert.equal(checkGeneralizationGap(runWith(1, 0.9, 10)).status, 'pass');
  });

  it('warns that nothing can be measured without validation images', () => {
    const { val: _, ...noVal } = runWith(1, 0.9, 10);
    assert.equal(checkGeneralizationGap({ ...noVal, probabilitiesOf: 'train' }).status, 'warn');
  });
});
