import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DoctorPipeline } from '../../src/doctor/doctor-pipeline';
import { doctorChecks } from '../../src/doctor/run-checks';
import { TrainPipeline } from '../../src/pipeline/train-pipeline';
import { testConfig, testContainer } from '../helpers/pipeline';
import { copySample } from '../helpers/sample-data';

describe('doctor pipeline on the embedded sample', () => {
  it('reads the features train cached, runs every check, and leaves no tensor behind', async () => {
    const data = copySample({ classes: 3, perClass: 14 });
    const config = testConfig({ 'image-size': '96', 'extract-workers': '1', epochs: '3' });
    const trained = await testContainer(config).get(TrainPipeline).run(data);
    assert.ok(trained.features.computed > 0);

    const before = tf.memory().numTensors;
    const report = await testContainer(config).get(DoctorPipeline).run(data);
    assert.equal(tf.memory().numTensors, before, 'tensors left behind');

    assert.equal(report.features.layer, trained.plan.cutLayer);
    assert.equal(report.features.computed, 0, 'features come from the cache train filled');
    assert.equal(report.features.fromCache, 42);
    assert.deepEqual(report.checks.map((c) => c.name), doctorChecks.map((c) => c.name));
    for (const check of report.checks) {
      assert.deepEqual(Object.keys(check).sort(), ['detail', 'fix', 'measured', 'name', 'seconds', 'status']);
      assert.ok(['pass', 'warn', 'fail'].includes(check.status));
      assert.ok(check.detail.length > 0);
      if (check.status !== 'pass') assert.ok(check.fix.length > 0, `${check.name} has no fix`);
    }
    // The sample is clean and learnable: only its 28 px images (upscaled over 3x to 96) may be questioned.
    const notPassing = report.checks.filter((c) => c.status !== 'pass').map((c) => `${c.name}: ${c.detail}`);
    assert.deepEqual(notPassing, [], notPassing.join('\n'));
    assert.deepEqual(report.summary, { pass: 10, warn: 0, fail: 0 });
    assert.ok(report.timings.checks_s > 0 && report.timings.total_s >= report.timings.checks_s);
  });
});

describe('doctor pipeline on a plan that fine-tunes', () => {
  it('checks the head on the pooled output of the top of the fine-tuned blocks, as the head phase of fine-tuning reads it', async () => {
    const config = testConfig({ 'image-size': '96', 'extract-workers': '1', policy: 'top' });
    const prepared = await testContainer(config).get(DoctorPipeline).prepareInputs(copySample({ classes: 2, perClass: 8 }));
    try {
      assert.equal(prepared.features.layer, 'out_relu');
      assert.equal(prepared.inputs.train.x.shape[1], 1280);
      assert.equal(prepared.inputs.rawTrain.shape[0], prepared.inputs.dataset.train.length);
    } finally {
      prepared.dispose();
    }
  });
});
