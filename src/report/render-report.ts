import type { TopLevelSpec } from 'vega-lite/build/index';
import { readoutName } from '../select/select-features';
import { classCountsChart, confusionChart, curvesChart, learningRateChart, perClassChart, transferabilityChart } from './charts';
import type { BaselineComparison } from '../pipeline/held-out-baseline';
import type { FineTuneGate } from '../train/fine-tune-gate';
import { escapeHtml } from './escape-html';
import { renderChartSvg } from './render-charts';
import type { ReportData, Thumbnail } from './report-data';

/**
 * report.html: one self-contained page. Charts are inline SVG rendered ahead of time, pictures
 * are data: URIs, styles are inline; the page runs no script and its content security policy
 * forbids loading anything, so it opens from disk anywhere and never reaches the network.
 */
export async function renderReport(data: ReportData, options: { onChartWarning?: (message: string) => void } = {}): Promise<string> {
  const draw: Draw = async (spec, caption, name) => {
    const svg = await renderChartSvg(spec, (message) => options.onChartWarning?.(`${name}: ${message}`));
    return `<figure class="chart" data-chart="${escapeHtml(name)}">${svg}<figcaption>${escapeHtml(caption)}</figcaption></figure>`;
  };
  const sections = [
    summarySection(data),
    await datasetSection(data, draw),
    await planSection(data, draw),
    await trainingSection(data, draw),
    await validationSection(data, draw),
    topLossesSection(data),
  ];
  const title = `Training report: ${data.name}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${styles}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p class="meta">run <code>${escapeHtml(data.runId)}</code> · ${escapeHtml(data.createdAt)} · <span class="status ${data.status}">${data.status}</span></p>
</header>
<main>
${sections.join('\n')}
</main>
</body>
</html>
`;
}

const styles = `
:root { color-scheme: light; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937; background: #f5f6f8; }
header { background: #1f2937; color: #f9fafb; padding: 18px 28px; }
header h1 { margin: 0; font-size: 22px; font-weight: 600; }
header .meta { margin: 4px 0 0; color: #cbd5e1; }
main { padding: 18px 28px 40px; max-width: 1180px; }
section { background: white; border: 1px solid #e5e7eb; border-radius: 8px; padding: 16px 20px; margin: 0 0 18px; }
h2 { margin: 0 0 12px; font-size: 17px; }
h3 { margin: 16px 0 8px; font-size: 14px; color: #374151; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 12.5px; }
.status { padding: 1px 8px; border-radius: 10px; font-weight: 600; }
.status.succeeded { background: #065f46; color: #d1fae5; }
.status.failed { background: #991b1b; color: #fee2e2; }
.error { background: #fef2f2; border: 1px solid #fecaca; color: #991b1b; padding: 10px 12px; border-radius: 6px; white-space: pre-wrap; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px 12px; min-width: 120px; }
.card .value { font-size: 19px; font-weight: 600; }
.card .label { color: #6b7280; font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
figure { margin: 0; width: min-content; }
figure svg { display: block; }
figcaption { color: #6b7280; font-size: 12px; margin-top: 4px; min-width: 260px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #eef0f3; padding: 4px 10px; text-align: left; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
ul.reasons { margin: 6px 0 0; padding-left: 20px; }
.thumbs { display: flex; flex-wrap: wrap; gap: 4px; }
.thumbs img, .loss img { width: 64px; height: 64px; border-radius: 4px; background: #e5e7eb; image-rendering: auto; }
.class-row { display: flex; align-items: center; gap: 12px; margin: 4px 0; }
.class-row .name { width: 140px; font-weight: 600; overflow-wrap: anywhere; }
.losses { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
.loss { border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px; font-size: 12px; }
.loss.wrong { border-color: #fca5a5; background: #fff7f7; }
.loss .file { color: #6b7280; overflow-wrap: anywhere; }
.muted { color: #6b7280; }
`;

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

/** A chart as a figure: inline SVG and its caption. */
type Draw = (spec: TopLevelSpec, caption: string, name: string) => Promise<string>;

function card(label: string, value: string): string {
  return `<div class="card"><div class="value">${escapeHtml(value)}</div><div class="label">${escapeHtml(label)}</div></div>`;
}

function image(thumbnail: Thumbnail, alt: string): string {
  return thumbnail.dataUri
    ? `<img src="${escapeHtml(thumbnail.dataUri)}" alt="${escapeHtml(alt)}" title="${escapeHtml(thumbnail.file)}">`
    : `<span class="muted" title="${escapeHtml(thumbnail.file)}">(no preview)</span>`;
}

function summarySection(data: ReportData): string {
  const val = data.metrics?.val;
  const phases = [...new Set(data.epochs.map((e) => e.phase))];
  const cards = [
    ...(val && val.n > 0 ? [card(`validation accuracy (${val.n} images)`, percent(val.accuracy)), card('validation loss', val.loss.toFixed(4))] : []),
    ...(data.metrics?.test ? [card(`test accuracy (${data.metrics.test.n} images)`, percent(data.metrics.test.accuracy))] : []),
    card('epochs trained', phases.map((p) => `${data.epochs.filter((e) => e.phase === p).length} ${p}`).join(' + ') || '0'),
    ...(data.plan ? [card('plan', `${data.plan.policy} · ${data.plan.quadrant}`)] : []),
    ...(data.backend ? [card('backend', data.backend.name)] : []),
    ...(data.timings?.total_s !== undefined ? [card('total time', `${data.timings.total_s.toFixed(1)} s`)] : []),
  ];
  return `<section id="summary">
<h2>Summary</h2>
${data.status === 'failed' ? `<p class="error">The run failed: ${escapeHtml(data.error ?? 'unknown error')}</p>` : ''}
<div class="cards">${cards.join('')}</div>
${data.exportDir ? `<p>Exported to <code>${escapeHtml(data.exportDir)}</code></p>` : ''}
${
  data.timings
    ? `<p class="muted">Timings: ${Object.entries(data.timings)
        .map(([k, v]) => `${escapeHtml(k)} ${v.toFixed(1)}`)
        .join(' · ')}</p>`
    : ''
}
</section>`;
}

async function datasetSection(data: ReportData, draw: Draw): Promise<string> {
  const dataset = data.dataset;
  if (!dataset) return `<section id="dataset"><h2>Dataset</h2><p class="muted">The run stopped before the data were read.</p></section>`;
  const rows = dataset.labels
    .map((label) => {
      const [train, val, test] = (['train', 'val', 'test'] as const).map((split) => dataset.counts[split][label] ?? 0);
      return `<tr><td>${escapeHtml(label)}</td><td class="number">${train}</td><td class="number">${val}</td><td class="number">${test}</td></tr>`;
    })
    .join('');
  const thumbnails = dataset.labels
    .map((label) => `<div class="class-row"><div class="name">${escapeHtml(label)}</div><div class="thumbs">${(dataset.thumbnails[label] ?? []).map((t) => image(t, label)).join('')}</div></div>`)
    .join('');
  const skipped =
    dataset.skipped.length === 0
      ? '<p class="muted">No file was skipped.</p>'
      : `<table><thead><tr><th>file</th><th>why it was skipped</th></tr></thead><tbody>${dataset.skipped
          .map((s) => `<tr><td><code>${escapeHtml(s.path)}</code></td><td>${escapeHtml(s.reason)}</td></tr>`)
          .join('')}</tbody></table>`;
  return `<section id="dataset">
<h2>Dataset</h2>
<p><code>${escapeHtml(dataset.root)}</code> · ${dataset.labels.length} classes · ${dataset.layout === 'split-folders' ? 'splits given by train/ val/ test/ folders' : 'split by content hash'}</p>
<div class="charts">
${await draw(classCountsChart(dataset), 'Images per class in each split.', 'class-counts')}
<table><thead><tr><th>class</th><th class="number">train</th><th class="number">validation</th><th class="number">test</th></tr></thead><tbody>${rows}</tbody></table>
</div>
<h3>Examples (training images)</h3>
${thumbnails}
<h3>Skipped files (${dataset.skipped.length})</h3>
${skipped}
</section>`;
}

async function planSection(data: ReportData, draw: Draw): Promise<string> {
  const plan = data.plan;
  if (!plan) return '';
  const similarity = plan.similarity;
  const scores =
    similarity.scores.length > 0
      ? await draw(
          transferabilityChart(plan),
          `Transferability of the frozen features at each candidate depth, on ${similarity.sampleSize ?? '?'} training images: a peak at the top means similar data, a peak lower down means different data.`,
          'transferability',
        )
      : `<p class="muted">Transferability was not measured in this run (${escapeHtml(similarity.reason)}). The auto policy measures it at every candidate depth.</p>`;
  return `<section id="plan">
<h2>Plan: ${escapeHtml(plan.quadrant)}</h2>
<div class="cards">${[
    card('policy', plan.requestedPolicy === plan.policy ? plan.policy : `${plan.policy} (asked: ${plan.requestedPolicy})`),
    card('dataset size', `${plan.datasetSize.category} (${plan.datasetSize.total} images)`),
    card('similarity', similarity.category),
    card('features taken at', plan.cutLayer),
    ...(plan.baseline ? [card('head-only model', headOnlyOutcome(plan.baseline))] : []),
    ...(plan.fineTune ? [card('fine-tuned', `${plan.fineTune.blocks} blocks to ${plan.fineTune.until}${fineTuneOutcome(plan.fineTune.gate)}`)] : []),
    card('trainable layers', String(plan.trainableLayers.length)),
  ].join('')}</div>
<ul class="reasons">${plan.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>
${featureTable(plan)}
${selectionTable(plan)}
<div class="charts">${scores}</div>
</section>`;
}

/** The readouts (depth, pooling) cross-validation compared with the logistic regression, and the one the head reads. */
function featureTable(plan: NonNullable<ReportData['plan']>): string {
  const selection = plan.featureSelection;
  if (!selection) return '';
  const rows = selection.candidates
    .map((c) => {
      const chosen = c.layer === selection.chosen.layer && c.pooling === selection.chosen.pooling ? ' (chosen)' : '';
      return `<tr><td>${escapeHtml(readoutName(c))}${chosen}</td><td>${c.accuracy.toFixed(3)} ± ${c.foldStd.toFixed(3)}</td></tr>`;
    })
    .join('');
  return `<h3>Features (logistic regression, cross-validated on ${selection.candidates[0]?.n ?? 0} images)</h3>
<table><tr><th>depth, pooling</th><th>out-of-fold accuracy ± fold std</th></tr>${rows}</table>
<p>${escapeHtml(selection.reason)}</p>`;
}

/** The candidates cross-validation tried, their out-of-fold accuracy, and the winner. */
function selectionTable(plan: NonNullable<ReportData['plan']>): string {
  const selection = plan.selection;
  if (!selection) return '';
  const rows = selection.candidates
    .map((c) => {
      const settings = c.kind === 'head' ? `${c.settings.epochs} epochs` : `strength ${c.settings.strength.toPrecision(2)}`;
      const won = c.name === selection.chosen ? ' (chosen)' : '';
      return `<tr><td>${escapeHtml(c.name)}${won}</td><td>${escapeHtml(settings)}</td><td>${c.accuracy.toFixed(3)} ± ${c.foldStd.toFixed(3)}</td></tr>`;
    })
    .join('');
  return `<h3>Candidates (${selection.folds}-fold cross-validation on ${selection.n} images)</h3>
<table><tr><th>candidate</th><th>settings</th><th>out-of-fold accuracy ± fold std</th></tr>${rows}</table>
<p>${escapeHtml(selection.reason)}</p>`;
}

async function trainingSection(data: ReportData, draw: Draw): Promise<string> {
  if (data.epochs.length === 0) return `<section id="training"><h2>Training</h2><p class="muted">No epoch finished.</p></section>`;
  const best = data.bestEpochs
    ? `<p class="muted">Weights kept (early stopping restores the best validation loss): ${Object.entries(data.bestEpochs)
        .map(([phase, epoch]) => `${escapeHtml(phase)} epoch ${epoch + 1}`)
        .join(', ')}.</p>`
    : '';
  const hasLearningRate = data.epochs.some((e) => e.learningRate !== undefined);
  return `<section id="training">
<h2>Training</h2>
${best}
<div class="charts">
${await draw(curvesChart(data.epochs, 'loss'), 'Cross-entropy per epoch: training (running mean over the epoch, with dropout) and validation (inference mode).', 'loss')}
${await draw(curvesChart(data.epochs, 'accuracy'), 'Accuracy per epoch, training and validation.', 'accuracy')}
${hasLearningRate ? await draw(learningRateChart(data.epochs), 'Learning rate of each epoch (log scale); pretrained layers learn at a fraction of it.', 'learning-rate') : ''}
</div>
</section>`;
}

async function validationSection(data: ReportData, draw: Draw): Promise<string> {
  const review = data.validation;
  if (!review) return '';
  const rows = review.labels
    .map((label) => {
      const m = review.perClass[label];
      return `<tr><td>${escapeHtml(label)}</td><td class="number">${m.precision.toFixed(3)}</td><td class="number">${m.recall.toFixed(3)}</td><td class="number">${m.f1.toFixed(3)}</td><td class="number">${m.support}</td></tr>`;
    })
    .join('');
  return `<section id="validation">
<h2>Validation: ${percent(review.accuracy)} of ${review.n} images</h2>
<div class="charts">
${await draw(confusionChart(review), 'Confusion matrix: rows are the true class, columns the predicted one; numbers are images.', 'confusion')}
<div>
<table><thead><tr><th>class</th><th class="number">precision</th><th class="number">recall</th><th class="number">F1</th><th class="number">images</th></tr></thead><tbody>${rows}</tbody></table>
</div>
${await draw(perClassChart(review), 'Precision, recall and F1 per class.', 'per-class')}
</div>
</section>`;
}

function topLossesSection(data: ReportData): string {
  const review = data.validation;
  if (!review) return '';
  const cards = review.topLosses
    .map((l) => {
      const wrong = l.trueLabel !== l.predictedLabel;
      return `<div class="loss${wrong ? ' wrong' : ''}">${image(l, `true ${l.trueLabel}, predicted ${l.predictedLabel}`)}
<div>true <b>${escapeHtml(l.trueLabel)}</b></div>
<div>predicted <b>${escapeHtml(l.predictedLabel)}</b> (${percent(l.confidence)})</div>
<div class="muted">loss ${l.loss.toFixed(2)} · p(true) ${percent(l.trueProbability)}</div>
<div class="file">${escapeHtml(l.file)}</div></div>`;
    })
    .join('\n');
  return `<section id="top-losses">
<h2>Top losses</h2>
<p class="muted">The validation images with the highest loss, the most confidently wrong first (red border: misclassified).</p>
<div class="losses">${cards || '<p class="muted">No validation images.</p>'}</div>
</section>`;
}

function headOnlyOutcome(comparison: BaselineComparison): string {
  const numbers = `${comparison.baselineAccuracy.toFixed(3)} baseline vs ${comparison.headAccuracy.toFixed(3)} trained head`;
  if (comparison.winner === 'head') return `trained head (${numbers})`;
  const refit = comparison.refit ? `, refitted on all ${comparison.refit.images} images` : '';
  return `logistic regression, L2 ${comparison.strength.toPrecision(2)}${refit} (${numbers})`;
}

function fineTuneOutcome(gate: FineTuneGate | undefined): string {
  if (!gate) return '';
  const numbers = `${gate.fineTunedAccuracy.toFixed(3)} vs ${gate.headOnlyAccuracy.toFixed(3)} head-only`;
  return gate.kept ? ` · kept (${numbers})` : ` · dropped, head-only exported (${numbers})`;
}
