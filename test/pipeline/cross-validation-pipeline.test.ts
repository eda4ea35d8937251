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

describe('train on small data: cross-validation between two close depths', () => {
  it('extracts the runner-up depth, cross-validates the baseline on both, and exports the head on the one that scored higher', async () => {
    const data = copySample({ classes: 3, perClass: 10 });
    // A margin of 1 makes every runner-up "close", so the stage always runs here.
    const config = testConfig({ folds: '3', epochs: '2', policy: 'auto', 'similarity-margin': '1', 'image-size': '96', 'probe-images': '30' });
    const run = await testContainer(config).get(TrainPipeline).run(data);
    const depth = run.plan.depth!;
    assert.equal(depth.candidates.length, 2);
    assert.ok(depth.candidates.every((c) => c.n === 30));
    const [planned, other] = depth.candidates;
    assert.notEqual(planned.layer, other.layer);
    const better = other.accuracy > planned.accuracy || (other.accuracy === planned.accuracy && other.logLoss < planned.logLoss) ? other : planned;
    assert.equal(depth.chosen, better.layer);
    assert.equal(run.plan.cutLayer, depth.chosen);
    const metadata = JSON.parse(fs.readFileSync(path.join(run.exportDir, 'metadata.json'), 'utf8'));
    assert.equal(metadata.plan.cutLayer, depth.chosen);
    assert.deepEqual(metadata.plan.depth, JSON.parse(JSON.stringify(depth)));
    assert.ok(run.plan.reasons.some((reason) => reason.includes(`${other.layer} scored close to ${planned.layer}`)));
    const report = fs.readFileSync(run.reportPath!, 'utf8');
    assert.match(report, /Depths \(logistic regression, cross-validated on 30 images\)/);
    assert.ok(report.includes(`${depth.chosen} (chosen)`));
    // The baseline select reports is the chosen depth's (reused, not refitted on the other depth's features).
    assert.equal(run.plan.selection!.candidates.at(-1)!.accuracy, better.accuracy);
  });
});
