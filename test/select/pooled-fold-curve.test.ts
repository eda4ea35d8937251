import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PooledFoldCurve } from '../../src/select/pooled-fold-curve';

/** Two folds of two samples each, two classes: fold f holds out samples 2f and 2f + 1 (labels 0, 1). */
const labels = [0, 1, 0, 1];
const foldOf = [0, 0, 1, 1];
const heldOut = [
  [0, 1],
  [2, 3],
];

/** Probabilities giving the true class `p` for both held-out samples of a fold. */
const confident = (p: number) => Float32Array.from([p, 1 - p, 1 - p, p]);

/** Runs each fold's epochs concurrently through the curve, as fits side by side do. */
async function runFolds(curve: PooledFoldCurve, trueClassProbability: number[][], maxEpochs: number): Promise<number[]> {
  const epochsRun: number[] = [];
  await Promise.all(
    heldOut.map(async (rows, fold) => {
      let stop = false;
      epochsRun[fold] = 0;
      for (let epoch = 0; epoch < maxEpochs && !stop; epoch++) {
        await new Promise((resolve) => setImmediate(resolve));
        epochsRun[fold] = epoch;
        stop = await curve.add(epoch, rows, confident(trueClassProbability[fold][epoch]));
      }
      epochsRun[fold] += 1;
    }),
  );
  return epochsRun;
}

describe('PooledFoldCurve', () => {
  it('picks the epoch of the lowest pooled out-of-fold loss and stops every fold `patience` epochs after it', async () => {
    const curve = new PooledFoldCurve(labels, 2, foldOf, 2, 2);
    // Fold 0 is best at epoch 1, fold 1 at epoch 2; pooled, the loss is lowest at epoch 2.
    const epochs = await runFolds(
      curve,
      [
        [0.6, 0.9, 0.8, 0.6, 0.6, 0.6, 0.6, 0.6],
        [0.6, 0.6, 0.95, 0.7, 0.6, 0.6, 0.6, 0.6],
      ],
      8,
    );
    assert.equal(curve.bestEpoch, 2);
    assert.deepEqual(epochs, [5, 5]); // epochs 0..4: two without improvement after epoch 2
    assert.equal(curve.estimates.length, 5);
    assert.ok(Math.abs(curve.estimates[2].logLoss - -(Math.log(0.8) + Math.log(0.95)) / 2) < 1e-6);
    // Every sample scored once, by its own fold's model.
    assert.deepEqual(Array.from(curve.estimates[2].probabilities, (p) => Number(p.toFixed(2))), [0.8, 0.2, 0.2, 0.8, 0.95, 0.05, 0.05, 0.95]);
  });

  it('runs to the last epoch while the pooled loss keeps improving', async () => {
    const curve = new PooledFoldCurve(labels, 2, foldOf, 2, 1);
    const rising = [0.55, 0.6, 0.7, 0.8];
    const epochs = await runFolds(curve, [rising, rising], 4);
    assert.deepEqual(epochs, [4, 4]);
    assert.equal(curve.bestEpoch, 3);
  });

  it('releases the folds still waiting when one fold fails', async () => {
    const curve = new PooledFoldCurve(labels, 2, foldOf, 2, 5);
    const waiting = curve.add(0, heldOut[0], confident(0.7));
    curve.abandon();
    assert.equal(await waiting, true);
  });
});
