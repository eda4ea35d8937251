import 'reflect-metadata';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { TrainPipeline, type TrainResult } from '../../src/pipeline/train-pipeline';
import { testConfig, testContainer } from '../helpers/pipeline';
import { copySample, temporaryDir } from '../helpers/sample-data';

describe('train on small data with cross-validation', () => {
  let data: string;
  let cache: string;
  let result: TrainResult;

  before(async () => {
    data = copySample({ classes: 3, perClass: 10 });
    cache = temporaryDir('cache');
    result = await testContainer(testConfig({ folds: '3', epochs: '4', 'cache-dir': cache })).get(TrainPipeline).run(data);
  });

  it('scores every labelled image out of fold, with no held-out split, and reports the estimate with its spread', () => {
    assert.equal(result.metrics.val.n, 30);
    assert.equal(result.metrics.val.folds, 3);
    assert.ok(Number.isFinite(result.metrics.val.foldStd));
    const report = JSON.parse(fs.readFileSync(path.join(result.runDir, 'report-data.json'), 'utf8'));
    assert.equal(report.validation.n, 30);
    assert.equal(report.validation.confusion.flat().reduce((a: number, b: number) => a + b, 0), 30);
  });

  it('lists the candidates tried, the winner and why, in the plan of train --json and the export', () => {
    const selection = result.plan.selection!;
    assert.deepEqual(selection.candidates.map((c) => c.kind), ['head', 'baseline']); // one hidden head; the baseline is the linear model
    assert.ok(selection.candidates.some((c) => c.name === selection.chosen));
    assert.match(selection.reason, /cross-validation/);
    const metadata = JSON.parse(fs.readFileSync(path.join(result.exportDir, 'metadata.json'), 'utf8'));
    assert.deepEqual(metadata.plan.selection, JSON.parse(JSON.stringify(selection)));
    assert.equal(metadata.metrics.val.accuracy, selection.candidates.find((c) => c.name === selection.chosen)!.accuracy);
  });

  it('replaces the fit stage: the plan says so before training, one head phase trained on all images, timed as training', () => {
    assert.ok(result.plan.reasons.some((reason) => /3-fold cross-validation on all 30 labelled training images/.test(reason)));
    const metadata = JSON.parse(fs.readFileSync(path.join(result.exportDir, 'metadata.json'), 'utf8'));
    assert.deepEqual(metadata.training.phases.map((p: { name: string }) => p.name), ['head']);
    assert.equal(metadata.training.phases[0].settings.selection, result.plan.selection!.chosen);
    assert.ok(result.timings.train_s > 0);
  });

  it('exports the logistic-regression baseline when it wins', async () => {
    // Heads that cannot learn (a vanishing rate) lose to the baseline.
    const config = testConfig({ folds: '3', epochs: '1', 'learning-rate': '1e-9', 'cache-dir': cache });
    const run = await testContainer(config).get(TrainPipeline).run(data);
    assert.equal(run.plan.selection!.winner, 'baseline');
    // The baseline is built as a head without dropout; the trained heads have the configured 0.2.
    const model = JSON.stringify(JSON.parse(fs.readFileSync(path.join(run.exportDir, 'model.json'), 'utf8')).modelTopology);
    assert.match(model, /"class_name":"Dropout","config":\{"rate":0,[^}]*"name":"head_dropout"/);
    assert.doesNotMatch(model, /head_hidden/);
    assert.equal(run.metrics.val.accuracy, run.plan.selection!.candidates.at(-1)!.accuracy);
  });
});

describe('train on small data: cross-validation between readouts (depths, poolings)', () => {
  it('reads every readout from the probe features, cross-validates the baseline on each, and exports the head on the best', async () => {
    const data = copySample({ classes: 3, perClass: 10 });
    // The plan's depth and the best-scoring other one, however far below: two depths x two poolings.
    const config = testConfig({ folds: '3', epochs: '2', policy: 'auto', 'image-size': '96', 'probe-images': '30' });
    const run = await testContainer(config).get(TrainPipeline).run(data);
    const selection = run.plan.featureSelection!;
    assert.equal(selection.candidates.length, 4);
    assert.ok(selection.candidates.every((c) => c.n === 30));
    assert.equal(new Set(selection.candidates.map((c) => `${c.layer} ${c.pooling}`)).size, 4);
    const best = selection.candidates.reduce((a, b) => (b.accuracy > a.accuracy || (b.accuracy === a.accuracy && b.logLoss < a.logLoss) ? b : a));
    assert.deepEqual(selection.chosen, { layer: best.layer, pooling: best.pooling });
    assert.equal(run.plan.cutLayer, best.layer);
    assert.equal(run.plan.pooling, best.pooling);
    const [planned, , other] = selection.candidates;
    assert.ok(run.plan.reasons.some((reason) => reason.includes(`${planned.layer} and ${other.layer} (the best-scoring other depth)`)));
    const metadata = JSON.parse(fs.readFileSync(path.join(run.exportDir, 'metadata.json'), 'utf8'));
    assert.equal(metadata.plan.cutLayer, best.layer);
    assert.deepEqual(metadata.plan.featureSelection, JSON.parse(JSON.stringify(selection)));
    const report = fs.readFileSync(run.reportPath!, 'utf8');
    assert.match(report, /Features \(logistic regression, cross-validated on 30 images\)/);
    assert.ok(report.includes('(chosen)'));
    // The baseline select reports is the chosen readout's (reused, not refitted on other features).
    assert.equal(run.plan.selection!.candidates.at(-1)!.accuracy, best.accuracy);
  });
});
