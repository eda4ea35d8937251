import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { RuntimeFailure } from '../../src/errors';
import { buildHead } from '../../src/train/head';
import { ExponentialDecay } from '../../src/train/learning-rate-schedule';
import { assertFiniteInputs } from '../../src/train/nan-guard';
import { trainHead } from '../../src/train/train-head';
import { labelledClusters, weightsOf } from '../helpers/labelled-clusters';

before(async () => {
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
});

const allFinite = (values: number[][]) => values.every((list) => list.every(Number.isFinite));

describe('NaN/Inf guard', () => {
  test('survives an absurd learning rate: restores weights, halves the rate, clips, and ends finite', async () => {
    // At 1e38 one step puts weights near float32's limit, so the next logits overflow to Infinity and the loss is NaN.
    const data = labelledClusters({ n: 40, d: 8, K: 2, separation: 2, seed: 6 });
    const head = buildHead({ numFeatures: 8, numClasses: 2, seed: 1 });
    const warnings: string[] = [];
    try {
      const result = await trainHead(head, data, undefined, 2, {
        epochs: 4,
        batchSize: 10,
        schedule: new ExponentialDecay(1e38, 1),
        patience: 100,
        seed: 1,
        maxNonFiniteRecoveries: 20,
        onWarning: (warning) => warnings.push(warning.kind),
      });
      assert.ok(result.recoveries.length >= 1, 'the absurd rate must have produced a non-finite step');
      result.recoveries.forEach((recovery, i) => {
        assert.equal(recovery.rateMultiplier, 0.5 ** (i + 1), 'each recovery halves the rate');
        assert.equal(recovery.clipNorm, 1, 'clipping is turned on');
      });
      assert.ok(warnings.filter((kind) => kind === 'non-finite').length === result.recoveries.length, `warnings ${warnings}`);
      assert.ok(allFinite(weightsOf(head)), 'the weights end finite');
      // An epoch whose every step was rolled back reports NaN (nothing was learned); the last one trained.
      assert.ok(Number.isFinite(result.history.at(-1)!.loss), `losses ${result.history.map((log) => log.loss)}`);
      assert.ok(result.history.at(-1)!.learningRate < 1e38, 'the rate in effect is logged lowered');
    } finally {
      head.dispose();
      data.x.dispose();
    }
  });

  test('gives up after maxNonFiniteRecoveries with a RuntimeFailure saying what happened and what to do', async () => {
    // A NaN feature (fit itself does not screen inputs) makes every full-batch loss NaN at any rate: no recovery can help.
    const data = labelledClusters({ n: 20, d: 4, K: 2, seed: 2 });
    const huge = tf.tidy(() => tf.concat([tf.slice(data.x, 0, 19), tf.tensor2d([[Number.NaN, 0, 0, 0]])])) as tf.Tensor2D;
    const head = buildHead({ numFeatures: 4, numClasses: 2, seed: 1 });
    try {
      await assert.rejects(
        trainHead(head, { x: huge, labels: data.labels }, undefined, 2, {
          epochs: 3,
          batchSize: 20,
          schedule: new ExponentialDecay(0.01, 1),
          patience: 10,
          seed: 1,
          maxNonFiniteRecoveries: 2,
        }),
        (error: Error) => {
          assert.ok(error instanceof RuntimeFailure, String(error));
          assert.match(error.message, /^Training diverged: the (loss|gradient norm) was NaN at epoch 3, step 1, after 2 recoveries \(each restored the last good weights, halved the learning rate and clipped gradients; the rate is now 0.25 x/);
          assert.match(error.message, /Lower --learning-rate .*--clip-norm 1.*finetune doctor/);
          return true;
        },
      );
      assert.ok(allFinite(weightsOf(head)), 'the last good weights are in place');
    } finally {
      head.dispose();
      tf.dispose([data.x, huge]);
    }
  });

  test('assertFiniteInputs names how many examples hold NaN or Infinity, and which', () => {
    const x = tf.tensor2d([
      [0, 1],
      [Number.NaN, 0],
      [2, 2],
      [0, Number.POSITIVE_INFINITY],
    ]);
    try {
      assert.throws(() => assertFiniteInputs(x, 'training'), (error: Error) => {
        assert.ok(error instanceof RuntimeFailure);
        assert.match(error.message, /^2 of 4 training examples hold NaN or infinite values after normalization \(examples 1, 3\)/);
        return true;
      });
      const fine = tf.tensor2d([[1, 2]]);
      assertFiniteInputs(fine, 'validation');
      fine.dispose();
    } finally {
      x.dispose();
    }
  });
});
