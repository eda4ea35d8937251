import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chooseBackend } from '../../src/backend/choose-backend';
import { fineTuneNetwork } from '../../src/train/fine-tune';
import { evaluateNetwork, fit, type LabelledData } from '../../src/train/fit';
import { buildHead } from '../../src/train/head';
import { ExponentialDecay } from '../../src/train/learning-rate-schedule';
import { featureStatistics, foldStandardization, standardize, type FeatureStatistics } from '../../src/train/standardize';
import { trainHead } from '../../src/train/train-head';
import { clusterSplit } from '../helpers/labelled-clusters';

const channels = 8;

/** Each example's features as a 2x2 map, every cell alike: what a segment reads. */
const asMaps = (data: LabelledData): LabelledData => ({ x: tf.tile(tf.reshape(data.x, [-1, 1, 1, channels]), [1, 2, 2, 1]), labels: data.labels });

/**
 * A trainable 1x1 convolution that adds 50 to every channel: pooled, its features sit far from zero
 * and vary by about one, as real activations often do (a large shared mean, a small spread).
 */
function offsetSegment(): tf.LayersModel {
  const conv = tf.layers.conv2d({ filters: channels, kernelSize: 1, inputShape: [2, 2, channels] });
  const segment = tf.sequential({ layers: [conv] });
  const weights = [tf.reshape(tf.eye(channels), [1, 1, channels, channels]), tf.fill([channels], 50)];
  conv.setWeights(weights);
  tf.dispose(weights);
  return segment;
}

describe('fineTuneNetwork: the head goes on reading standardized features', () => {
  let data: ReturnType<typeof clusterSplit>;
  let train: LabelledData;
  let val: LabelledData;
  let segment: tf.LayersModel;
  let stats: FeatureStatistics;

  before(async () => {
    await chooseBackend('wasm');
    data = clusterSplit({ n: 240, trainCount: 160, d: channels, K: 3, seed: 4 });
    [train, val] = [asMaps(data.train), asMaps(data.val)];
    segment = offsetSegment();
    stats = featureStatistics(tf.tidy(() => tf.mean(segment.predict(train.x) as tf.Tensor4D, [1, 2]) as tf.Tensor2D));
  });
  after(() => {
    tf.dispose([train.x, val.x, stats.mean, stats.std]);
    data.dispose();
    segment.dispose();
  });

  /** A head trained on the standardized pooled features, as the head phase trains it. */
  async function trainedHead(): Promise<tf.Sequential> {
    const pooled = (x: tf.Tensor) => tf.tidy(() => standardize(tf.mean(segment.predict(x) as tf.Tensor4D, [1, 2]) as tf.Tensor2D, stats));
    const [standardTrain, standardVal] = [{ x: pooled(train.x), labels: train.labels }, { x: pooled(val.x), labels: val.labels }];
    const head = buildHead({ numFeatures: channels, numClasses: 3, dropout: 0.2, seed: 1 });
    await trainHead(head, standardTrain, standardVal, 3, { epochs: 20, batchSize: 16, schedule: new ExponentialDecay(0.01, 1), patience: 20, seed: 1 });
    tf.dispose([standardTrain.x, standardVal.x]);
    return head;
  }

  /** Validation accuracy before and after two epochs of fine-tuning the head alone with Adam at 0.01. */
  async function fineTuned(head: tf.Sequential, standardization?: FeatureStatistics): Promise<[number, number]> {
    const network = fineTuneNetwork({ segment, head, baseRateMultiplier: 0, standardization });
    const before = evaluateNetwork(network.predict, val, 3).accuracy;
    await fit(network, train, undefined, 3, { epochs: 2, batchSize: 16, schedule: new ExponentialDecay(0.01, 1), patience: 10, seed: 2 });
    return [before, evaluateNetwork(network.predict, val, 3).accuracy];
  }

  test("Adam's steps on the standardized head keep what it learned; the same steps on its raw-feature form scramble it", async () => {
    const [standardHead, rawHead] = [await trainedHead(), await trainedHead()];
    foldStandardization(rawHead, stats);
    try {
      const [standardBefore, standardAfter] = await fineTuned(standardHead, stats);
      const [rawBefore, rawAfter] = await fineTuned(rawHead);
      assert.equal(standardBefore, rawBefore, 'the two forms are one model');
      assert.ok(standardBefore > 0.9, `the head learned the clusters: ${standardBefore}`);
      assert.ok(standardAfter >= standardBefore - 0.05, `standardized: ${standardBefore} -> ${standardAfter}`);
      assert.ok(rawAfter < standardAfter - 0.2, `raw features: ${rawBefore} -> ${rawAfter}, against ${standardAfter} standardized`);
    } finally {
      standardHead.dispose();
      rawHead.dispose();
    }
  });
});
