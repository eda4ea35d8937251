import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Plan } from '../../src/policy/plan';
import { escapeHtml } from '../../src/report/escape-html';
import { renderReport } from '../../src/report/render-report';
import type { ReportData } from '../../src/report/report-data';
import { formatRunSummary, summarizeRun } from '../../src/report/run-summary';
import { appendEpochRecord, createRunDirectory, writeRunConfig } from '../../src/runs/run-directory';
import { temporaryDir } from '../helpers/sample-data';

const hostile = '<script>alert("x")</script>';
const labels = [hostile, `a&b "quoted" 'single'`, 'plain'];

function hostileReport(): ReportData {
  const plan = {
    policy: 'intermediate',
    requestedPolicy: 'auto',
    datasetSize: { category: 'small', total: 6, perClass: Object.fromEntries(labels.map((l) => [l, 2])), smallestClass: 2 },
    similarity: {
      category: 'different',
      scores: [
        { layer: 'block_3_expand_relu', score: -0.5 },
        { layer: '<img src=x onerror=alert(1)>', score: -0.2 },
        { layer: 'out_relu', score: -0.4 },
      ],
      best: '<img src=x onerror=alert(1)>',
      metric: 'logme',
      sampleSize: 6,
      reason: `Peaks below the top, at <img src=x onerror=alert(1)>.`,
    },
    quadrant: 'small dataset, different data',
    cutLayer: '<img src=x onerror=alert(1)>',
    trainableLayers: ['head_probabilities'],
    reasons: [`Reason with ${hostile}`],
  } as Plan;
  const epochs = ['head', 'fine-tune'].flatMap((phase) =>
    [0, 1, 2].map((epoch) => ({ phase, epoch, learningRate: 0.01 / (epoch + 1), loss: 1 / (epoch + 1), accuracy: 0.5 + epoch / 10, valLoss: 1.2 / (epoch + 1), valAccuracy: 0.4 + epoch / 10, seconds: 0.1 })),
  );
  return {
    formatVersion: 1,
    runId: 'run-1',
    name: `name ${hostile}`,
    status: 'failed',
    error: `broke on ${hostile}`,
    createdAt: '2026-11-27T00:00:00.000Z',
    exportDir: `/exports/${hostile}/1`,
    backend: { name: 'wasm', reason: 'test' },
    dataset: {
      root: `/data/${hostile}`,
      layout: 'folders',
      labels,
      counts: { train: { [labels[0]]: 2, [labels[1]]: 2, plain: 2 }, val: { [labels[0]]: 1, [labels[1]]: 1, plain: 1 }, test: {} },
      thumbnails: { [labels[0]]: [{ file: `${hostile}/1.png` }], [labels[1]]: [], plain: [] },
      skipped: [{ path: `plain/${hostile}.png`, reason: `bad "${hostile}"` }],
    },
    plan,
    epochs,
    bestEpochs: { head: 2, 'fine-tune': 1 },
    metrics: { val: { loss: 0.5, accuracy: 2 / 3, n: 3 } },
    validation: {
      n: 3,
      accuracy: 2 / 3,
      labels,
      confusion: [
        [1, 0, 0],
        [0, 0, 1],
        [0, 0, 1],
      ],
      perClass: Object.fromEntries(labels.map((l) => [l, { precision: 0.5, recall: 0.5, f1: 0.5, support: 1 }])),
      topLosses: [{ file: `${labels[1]}/<x>.png`, dataUri: 'data:image/jpeg;base64,AAAA', trueLabel: labels[1], predictedLabel: 'plain', confidence: 0.9, trueProbability: 0.05, loss: 3 }],
    },
    timings: { total_s: 1 },
  };
}

describe('escapeHtml', () => {
  it('escapes the five characters that matter in text and quoted attributes', () => {
    assert.equal(escapeHtml(`<a href="x">Tom & 'Jerry'</a>`), '&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;');
  });
});

describe('renderReport', () => {
  it('escapes labels, file names, layer names and messages everywhere, charts included', async () => {
    const warnings: string[] = [];
    const html = await renderReport(hostileReport(), { onChartWarning: (m) => warnings.push(m) });
    assert.ok(!html.includes('<script'), 'no script element, not even from a label');
    assert.ok(!html.includes('<img src=x'), 'no injected element from a layer name');
    assert.ok(!html.includes('<x>'), 'no injected element from a file name');
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'), 'labels appear escaped in the page');
    assert.ok(html.includes('a&amp;b &quot;quoted&quot; &#39;single&#39;') || html.includes('a&amp;b &quot;quoted&quot; \'single\''));
    assert.equal((html.match(/<svg/g) ?? []).length, 7, 'every chart is drawn, two phases included');
    assert.deepEqual(warnings, [], 'the chart specifications compile without warnings');
    assert.match(html, /The run failed: broke on &lt;script&gt;/);
  });

  it('names the head-only model large data kept: the baseline or the trained head, with both accuracies', async () => {
    const data = hostileReport();
    const comparison = { method: 'validation split' as const, n: 500, headAccuracy: 0.83, baselineAccuracy: 0.864, strength: 0.0032, path: [], margin: -0.034, standardError: 0.014, seconds: 1, reason: 'r' };
    const withBaseline = (winner: 'head' | 'baseline') => renderReport({ ...data, plan: { ...data.plan!, baseline: { ...comparison, winner } } });
    assert.match(await withBaseline('baseline'), /logistic regression, L2 0\.0032 \(0\.864 baseline vs 0\.830 trained head\)<\/div><div class="label">head-only model/);
    assert.match(await withBaseline('head'), /trained head \(0\.864 baseline vs 0\.830 trained head\)/);
    assert.doesNotMatch(await renderReport(data), /head-only model/);
    const refit = { images: 625, trainingImages: 500, strength: 0.0032, seconds: 1, reason: 'r' };
    const refitted = await renderReport({ ...data, plan: { ...data.plan!, baseline: { ...comparison, winner: 'baseline', refit } } });
    assert.match(refitted, /logistic regression, L2 0\.0032, refitted on all 625 images \(0\.864 baseline vs 0\.830 trained head\)/);
  });
});

describe('finetune report on a run that left only config.json and metrics.jsonl', () => {
  it('summarizes the recorded epochs and renders a page from them', async () => {
    const runsDir = temporaryDir('runs');
    const run = createRunDirectory(runsDir, 'interrupted');
    writeRunConfig(run, { env: 'test', values: { export: { name: 'interrupted' } } });
    appendEpochRecord(run, { phase: 'head', epoch: 0, learningRate: 0.005, loss: 1.2, accuracy: 0.5, valLoss: 1.0, valAccuracy: 0.6, seconds: 1 });
    appendEpochRecord(run, { phase: 'head', epoch: 1, learningRate: 0.00475, loss: 0.8, accuracy: 0.7, valLoss: 0.9, valAccuracy: 0.75, seconds: 1 });
    const summary = await summarizeRun(runsDir, run.id);
    assert.equal(summary.rendered, true, 'report.html was missing, so it is rendered');
    assert.ok(fs.existsSync(path.join(run.dir, 'report.html')));
    assert.deepEqual(summary.epochs, { head: 2 });
    assert.deepEqual(summary.bestValAccuracy, { value: 0.75, phase: 'head', epoch: 2 });
    assert.equal(summary.status, 'failed');
    const text = formatRunSummary(summary);
    assert.match(text, new RegExp(`^report ${run.reportPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(rendered now\\)$`, 'm'));
    assert.match(text, /^epochs: 2 head$/m);
    assert.match(text, /^best validation accuracy 0\.750 \(head epoch 2\)$/m);
    const page = fs.readFileSync(run.reportPath, 'utf8');
    assert.match(page, /data-chart="loss"/);
  });
});
