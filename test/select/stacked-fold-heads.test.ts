import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { chooseBackend } from '../../src/backend/choose-backend';
import { RuntimeFailure } from '../../src/errors';
import { crossValidateHead, type HeadCandidate } from '../../src/select/cross-validate-head';
import { stackable } from '../../src/select/stacked-fold-heads';
import { stratifiedFolds } from '../../src/select/stratified-folds';
import { ExponentialDecay } from '../../src/train/learning-rate-schedule';
import { clusters, matrixOf } from '../helpers/clusters';

const settings = { initializer: 'glorotNormal' as const, initStddev: 0, seed: 5 };

before(async () => {
  // The pipeline's backend and kernels (the batched products of the stack are split there).
  await chooseBackend('wasm');
});

describe('the stacked folds of a head candidate', () => {
  // 53 images in 4 folds: training parts of 39 and 40 images, both 5 batches of 8.
  const { features, labels } = clusters(53, 12, 3, 1, 1, 11);
  const foldOf = stratifiedFolds(labels, 3, 4, 2);
  const candidate: HeadCandidate = { name: 'hidden 6', dropout: 0.3, inputDropout: 0.2, hiddenUnits: 6, l2: 0.001 };
  const run = (stacked: boolean, overrides: Partial<HeadCandidate> = {}, matrix = matrixOf(features)) =>
    crossValidateHead({
      features: matrix,
      labels,
      numClasses: 3,
      foldOf,
      candidates: [{ ...candidate, ...overrides }],
      settings,
      fitOptions: { epochs: 1, batchSize: 8, schedule: new ExponentialDecay(0.02, 0.9), patience: 100, seed: 4, classWeights: 'balanced', labelSmoothing: 0.1 },
      maxEpochs: 6,
      patience: 6,
      stacked,
    });

  it('train to what each fold trains to on its own fit, in far fewer kernels', async () => {
    const alone = await run(false);
    const tensors = tf.memory().numTensors;
    let stacked: Awaited<ReturnType<typeof run>> | undefined;
    const kernels = async (f: () => Promise<void>) => (await tf.profile(f)).kernels.length;
    const stackedKernels = await kernels(async () => {
      stacked = await run(true);
    });
    assert.equal(tf.memory().numTensors, tensors, 'the stacked run left tensors behind');
    const aloneKernels = await kernels(async () => {
      await run(false);
    });
    assert.equal(stacked!.best.epochs, alone.best.epochs);
    assert.deepEqual(stacked!.best.curve, alone.best.curve);
    assert.ok(Math.abs(stacked!.best.estimate.logLoss - alone.best.estimate.logLoss) < 1e-5, `${stacked!.best.estimate.logLoss} vs ${alone.best.estimate.logLoss}`);
    const probabilities = stacked!.best.estimate.probabilities;
    alone.best.estimate.probabilities.forEach((p, i) => assert.ok(Math.abs(p - probabilities[i]) < 1e-4, `probability ${i}: ${p} vs ${probabilities[i]}`));
    assert.ok(stackedKernels < aloneKernels / 2, `${stackedKernels} kernels stacked, ${aloneKernels} alone`);
  });

  it('are trained one by one again when a stacked step is not finite, where the NaN guard answers', async () => {
    const poisoned = matrixOf(features);
    poisoned.data[5] = Number.NaN;
    await assert.rejects(run(true, {}, poisoned), (error: Error) => error instanceof RuntimeFailure && /non-finite|NaN/i.test(error.message));
  });

  it('stack only what one optimizer can step for every fold', () => {
    const fit = { epochs: 1, batchSize: 8, schedule: new ExponentialDecay(0.02, 0.9), patience: 100, seed: 4 };
    assert.equal(stackable(candidate, [39, 40], fit), true);
    assert.equal(stackable(candidate, [40, 41], fit), false, 'five batches in one fold, six in the other');
    assert.equal(stackable(candidate, [39, 40], { ...fit, clipNorm: 1 }), false, "clipping reads a fold's own gradient norm");
    assert.equal(stackable({ ...candidate, hiddenUnits: 0 }, [39, 40], fit), false);
  });
});
