import 'reflect-metadata';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { TrainPipeline, type TrainResult } from '../../src/pipeline/train-pipeline';
import type { ReportData } from '../../src/report/report-data';
import { browserSkipReason, openInChromium } from '../helpers/browser';
import { testConfig, testContainer } from '../helpers/pipeline';
import { copySample, temporaryDir } from '../helpers/sample-data';

/** The page's document, inside page.evaluate callbacks (this project compiles without the DOM library). */
declare const document: any;

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(repoRoot, 'bin', 'finetune.js');

async function decodeDataUri(uri: string) {
  const match = /^data:image\/jpeg;base64,(.+)$/.exec(uri);
  assert.ok(match, `expected a JPEG data: URI, got ${uri.slice(0, 40)}`);
  return sharp(Buffer.from(match[1], 'base64')).metadata();
}

/** `finetune report` in a child process, like a user runs it. */
function finetuneReport(args: string[]) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FINETUNE_') && name !== 'NODE_ENV'));
  return spawnSync(process.execPath, [bin, 'report', ...args], { cwd: repoRoot, env, encoding: 'utf8', timeout: 60_000 });
}

describe('the report of a real training run (auto policy, 3 classes x 12 images, 4 epochs)', () => {
  let data: string;
  let config: ReturnType<typeof testConfig>;
  let result: TrainResult;
  let report: ReportData;
  let html: string;

  before(async () => {
    data = copySample({ classes: 3, perClass: 12 });
    fs.writeFileSync(path.join(data, fs.readdirSync(data)[0], 'notes <b>&.png'), 'not an image');
    config = testConfig({ epochs: '4', patience: '4', policy: 'auto', name: 'clothes' });
    result = await testContainer(config).get(TrainPipeline).run(data);
    report = JSON.parse(fs.readFileSync(path.join(result.runDir, 'report-data.json'), 'utf8'));
    html = fs.readFileSync(result.reportPath!, 'utf8');
  });

  it('writes report.html into the run folder and returns its path', () => {
    assert.equal(result.reportPath, path.join(result.runDir, 'report.html'));
    assert.ok(html.startsWith('<!doctype html>'));
    assert.ok(result.timings.report_s > 0);
  });

  it('summarizes the dataset: counts per class and split, thumbnails, skipped files with the reason', async () => {
    const dataset = report.dataset!;
    assert.deepEqual(dataset.labels, result.labels);
    const total = (split: 'train' | 'val' | 'test') => Object.values(dataset.counts[split]).reduce((a, b) => a + b, 0);
    assert.equal(total('train') + total('val'), 36);
    assert.equal(total('val'), result.metrics.val.n);
    for (const label of dataset.labels) {
      assert.equal(dataset.thumbnails[label].length, 6, label);
      const meta = await decodeDataUri(dataset.thumbnails[label][0].dataUri!);
      assert.deepEqual([meta.width, meta.height], [64, 64]);
    }
    assert.equal(dataset.skipped.length, 1);
    assert.match(dataset.skipped[0].path, /notes <b>&\.png$/);
    assert.match(dataset.skipped[0].reason, /not an image/);
    assert.ok(html.includes('notes &lt;b&gt;&amp;.png'), 'the skipped file name is escaped');
    assert.ok(!html.includes('notes <b>'), 'the raw file name never reaches the page');
  });

  it('keeps the plan with a transferability score per candidate depth', () => {
    assert.deepEqual(report.plan, JSON.parse(JSON.stringify(result.plan)));
    assert.equal(report.plan!.similarity.scores.length, 6);
    assert.match(html, /data-chart="transferability"/);
  });

  it('records every epoch, with its learning rate', () => {
    const lines = fs.readFileSync(path.join(result.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(report.epochs.length, lines.length);
    report.epochs.forEach((e, i) => {
      assert.equal(e.epoch, lines[i].epoch);
      assert.equal(e.learningRate, lines[i].learningRate);
      assert.equal(e.valLoss, lines[i].valLoss);
    });
  });

  it('reviews the validation images with the trained classifier: the confusion matrix agrees with the measured accuracy', () => {
    const review = report.validation!;
    assert.equal(review.n, result.metrics.val.n);
    assert.equal(review.confusion.flat().reduce((a, b) => a + b, 0), review.n);
    const correct = review.labels.reduce((sum, _, k) => sum + review.confusion[k][k], 0);
    assert.ok(Math.abs(correct / review.n - result.metrics.val.accuracy) < 1e-9, `${correct}/${review.n} against ${result.metrics.val.accuracy}`);
    for (const label of review.labels) {
      const m = review.perClass[label];
      assert.ok(m.f1 >= 0 && m.f1 <= 1 && m.support > 0, label);
    }
  });

  it('lists the top losses, highest first, with thumbnails, true and predicted labels', async () => {
    const losses = report.validation!.topLosses;
    assert.equal(losses.length, Math.min(12, report.validation!.n));
    for (let i = 1; i < losses.length; i++) assert.ok(losses[i - 1].loss >= losses[i].loss);
    for (const l of losses) {
      assert.ok(report.dataset!.labels.includes(l.trueLabel) && report.dataset!.labels.includes(l.predictedLabel));
      assert.ok(Math.abs(l.loss + Math.log(Math.max(l.trueProbability, 1e-7))) < 1e-9);
      assert.equal(l.file.split(path.sep)[0], l.trueLabel, 'the file sits in its true class folder');
    }
    assert.deepEqual(((await decodeDataUri(losses[0].dataUri!)) as { width: number }).width, 64);
  });

  it('is self-contained: no script, no external reference, a policy that forbids loading anything', () => {
    assert.ok(!/<script/i.test(html));
    assert.ok(!/(src|href)=["'](?!data:)/i.test(html.replace(/xmlns(:xlink)?="[^"]*"/g, '')), 'every src/href is a data: URI');
    assert.ok(!/url\(/i.test(html.replace(/url\(#[^)]*\)/g, '')), 'no CSS url() other than in-page references');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  });

  it('renders in headless Chromium with every chart drawn, no console error and no request', async (t) => {
    const skip = browserSkipReason();
    if (skip) return t.skip(skip);
    const url = pathToFileURL(result.reportPath!).href;
    const opened = await openInChromium(url);
    try {
      const charts = await opened.page.evaluate(() =>
        [...document.querySelectorAll('figure.chart')].map((figure: any) => {
          const svg = figure.querySelector('svg');
          const box = svg?.getBoundingClientRect();
          const marks: any[] = svg ? [...svg.querySelectorAll('g.role-mark')] : [];
          const drawn = marks.flatMap((g) => [...g.querySelectorAll('path, rect, line, text')]).filter((el: any) => {
            const r = el.getBoundingClientRect();
            return r.width > 0 || r.height > 0;
          });
          return { name: figure.getAttribute('data-chart'), width: box?.width ?? 0, height: box?.height ?? 0, drawn: drawn.length };
        }),
      );
      assert.deepEqual(charts.map((c) => c.name), ['class-counts', 'transferability', 'loss', 'accuracy', 'learning-rate', 'confusion', 'per-class']);
      for (const chart of charts) {
        assert.ok(chart.width > 100 && chart.height > 50, `${chart.name}: ${chart.width}x${chart.height}`);
        assert.ok(chart.drawn > 0, `${chart.name} has no visible marks`);
      }
      const images = await opened.page.evaluate(() => [...document.images].map((img: any) => ({ complete: img.complete, width: img.naturalWidth })));
      assert.ok(images.length >= 18 + 1, `${images.length} images`);
      assert.ok(images.every((img) => img.complete && img.width === 64), 'every thumbnail decoded');
      assert.deepEqual(opened.errors, []);
      assert.deepEqual(opened.requests, []);
      const screenshot = path.join(temporaryDir('report-screenshot'), 'report.png');
      await opened.page.screenshot({ path: screenshot, fullPage: true });
      const meta = await sharp(screenshot).metadata();
      assert.equal(meta.format, 'png');
      assert.ok(meta.width! >= 1000 && meta.height! > 1500, `${meta.width}x${meta.height}`);
      t.diagnostic(`screenshot ${screenshot}`);
    } finally {
      await opened.close();
    }
  });

  it('finetune report prints the path and a summary, as text or one JSON document', () => {
    const json = finetuneReport([result.runDir, '--json']);
    assert.equal(json.status, 0, json.stderr);
    const summary = JSON.parse(json.stdout);
    assert.equal(summary.reportPath, result.reportPath);
    assert.equal(summary.runId, result.runId);
    assert.equal(summary.status, 'succeeded');
    assert.equal(summary.rendered, false);
    assert.equal(summary.plan.quadrant, result.plan.quadrant);
    assert.equal(summary.val.accuracy, result.metrics.val.accuracy);
    assert.deepEqual(Object.keys(summary.perClass), result.labels);
    const best = Math.max(...report.epochs.map((e) => e.valAccuracy!));
    assert.equal(summary.bestValAccuracy.value, best);

    const text = finetuneReport([result.runId, '--runs-dir', config.runs.dir]);
    assert.equal(text.status, 0, text.stderr);
    assert.ok(text.stdout.startsWith(`report ${result.reportPath}\n`), text.stdout);
    assert.match(text.stdout, new RegExp(`best validation accuracy ${best.toFixed(3)}`));
    assert.match(text.stdout, new RegExp(`plan: ${result.plan.policy} on ${result.plan.cutLayer} \\(${result.plan.quadrant}\\)`));
    for (const label of result.labels) assert.match(text.stdout, new RegExp(`^  ${label}: F1 \\d\\.\\d{3}`, 'm'));
  });

  it('finetune report --render rebuilds the same page from report-data.json', () => {
    fs.rmSync(result.reportPath!);
    const run = finetuneReport([result.runDir, '--render', '--json']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).rendered, true);
    const rebuilt = fs.readFileSync(result.reportPath!, 'utf8');
    // The same data give the same page (chart ids are per process; the numbers are the same).
    const strip = (page: string) => page.replace(/clip\d+/g, 'clip').replace(/gradient_?\d+/g, 'gradient');
    assert.equal(strip(rebuilt), strip(html));
  });

  it('finetune report on an unknown run exits 2 and says where it looked', () => {
    const run = finetuneReport(['no-such-run', '--runs-dir', config.runs.dir]);
    assert.equal(run.status, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /No run "no-such-run"/);
  });

  it('writes a report for a run that fails after the data were loaded, and still fails', async () => {
    const blocker = path.join(temporaryDir('blocked'), 'not-a-folder');
    fs.writeFileSync(blocker, '');
    // Same data, policy and cache as the run above: the features come from the cache, only the export fails.
    const failing = testConfig({ epochs: '2', patience: '2', policy: 'auto', name: 'failing', out: blocker, 'cache-dir': config.base.cacheDir, 'runs-dir': config.runs.dir });
    await assert.rejects(testContainer(failing).get(TrainPipeline).run(data));
    const runs = fs.readdirSync(config.runs.dir).filter((name) => name.startsWith('failing-'));
    assert.equal(runs.length, 1);
    const failed: ReportData = JSON.parse(fs.readFileSync(path.join(config.runs.dir, runs[0], 'report-data.json'), 'utf8'));
    assert.equal(failed.status, 'failed');
    assert.ok(failed.error && failed.error.length > 0);
    assert.equal(failed.epochs.length, 2, 'the epochs trained before the failure are shown');
    assert.ok(failed.dataset && failed.plan);
    const page = fs.readFileSync(path.join(config.runs.dir, runs[0], 'report.html'), 'utf8');
    assert.match(page, /The run failed: /);
  });
});
