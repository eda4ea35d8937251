import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PreparedDoctorInputs } from '../../src/doctor/doctor-pipeline';
import { buildConfiguredHead } from '../../src/train/head';
import { prepareSampleInputs } from './sample-inputs';

let prepared: PreparedDoctorInputs;

before(async () => {
  prepared = await prepareSampleInputs({ classes: 2, perClass: 6 }, { initializer: 'truncatedNormal', 'init-stddev': '0.5', 'hidden-units': '0' });
});

after(() => prepared.dispose());

const kernelOf = (head: tf.Sequential) => Array.from(head.getLayer('head_probabilities').getWeights()[0].dataSync());

describe("doctor's head", () => {
  it("is train's head: the same initializer, initStddev included, and the same weights", () => {
    const { inputs } = prepared;
    const doctorHead = inputs.newHead();
    const trainHead = buildConfiguredHead(inputs.config.train, inputs.train.x.shape[1], inputs.numClasses);
    try {
      const kernel = kernelOf(doctorHead);
      const std = Math.sqrt(kernel.reduce((sum, v) => sum + v * v, 0) / kernel.length);
      // A truncated normal (cut at 2 sigma) of stddev 0.5 has a standard deviation near 0.44; 1/sqrt(fanIn) would be ~0.03.
      assert.ok(std > 0.35 && std < 0.55, `kernel standard deviation ${std}: initStddev 0.5 was not applied`);
      assert.deepEqual(kernel, kernelOf(trainHead));
    } finally {
      doctorHead.dispose();
      trainHead.dispose();
    }
  });
});
