import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadExport } from '../../src/export/load-export';
import { BaseModelSource } from '../../src/models/base-model';
import { ClassifyPipeline } from '../../src/pipeline/classify-pipeline';
import { TrainPipeline } from '../../src/pipeline/train-pipeline';
import { loadFixtureGraphBase } from '../helpers/graph-fixture';
import { testConfig, testContainer } from '../helpers/pipeline';
import { copySample } from '../helpers/sample-data';

/** Plays a TF Hub MobileNet: a GraphModel base with an embedding node, as HubMobileNetSource returns. */
const fixtureSource: BaseModelSource = {
  accepts: (id) => id === 'fixture-graph',
  load: (id) => loadFixtureGraphBase(id),
};

describe('train on a GraphModel base', () => {
  it('plans frozen features, exports one GraphModel from raw RGB to probabilities, and evaluates it', async () => {
    const data = copySample({ classes: 2, perClass: 10 });
    const config = testConfig({ base: 'fixture-graph', policy: 'auto', epochs: '4', name: 'graph' });
    const container = testContainer(config);
    container.bind(BaseModelSource).toConstantValue(fixtureSource);
    const result = await container.get(TrainPipeline).run(data);

    assert.equal(result.plan.policy, 'head');
    assert.ok(result.plan.reasons.some((reason) => /GraphModel.*frozen features/.test(reason)));
    const modelJson = JSON.parse(fs.readFileSync(path.join(result.exportDir, 'model.json'), 'utf8'));
    assert.equal(modelJson.format, 'graph-model');
    const metadata = JSON.parse(fs.readFileSync(path.join(result.exportDir, 'metadata.json'), 'utf8'));
    assert.equal(metadata.format, 'graph-model');

    const loaded = await loadExport(result.exportDir);
    const probabilities = tf.tidy(() => loaded.predict(tf.fill([3, 224, 224, 3], 128) as tf.Tensor4D).arraySync());
    loaded.dispose();
    assert.equal(probabilities.length, 3);
    for (const row of probabilities) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);

    const evaluation = await container.get(ClassifyPipeline).evaluate(result.exportDir, data);
    assert.equal(evaluation.n, 20);
    assert.deepEqual(evaluation.labels, result.labels);
  });
});
