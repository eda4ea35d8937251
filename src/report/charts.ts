import type { TopLevelSpec } from 'vega-lite/build/index';
import type { Plan } from '../policy/plan';
import type { DatasetSummary, EpochPoint, ValidationReview } from './report-data';

/** Vega-Lite specifications of the report's charts; data are inlined, nothing is fetched. */

const font = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const baseConfig = {
  font,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: '#eceff3' },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  background: 'white',
};
const splitColors = { domain: ['train', 'validation', 'test'], range: ['#4c78a8', '#f58518', '#54a24b'] };

/** Images per class, stacked by split. */
export function classCountsChart(dataset: DatasetSummary): TopLevelSpec {
  const splitName = { train: 'train', val: 'validation', test: 'test' } as const;
  const values = (['train', 'val', 'test'] as const).flatMap((split) =>
    dataset.labels.map((label) => ({ label, split: splitName[split], order: ['train', 'val', 'test'].indexOf(split), images: dataset.counts[split][label] ?? 0 })),
  );
  return {
    config: baseConfig,
    width: 420,
    height: { step: 18 },
    data: { values: values.filter((v) => v.images > 0) },
    mark: 'bar',
    encoding: {
      y: { field: 'label', type: 'nominal', sort: dataset.labels, title: 'class' },
      x: { field: 'images', type: 'quantitative', stack: 'zero', title: 'images' },
      color: { field: 'split', type: 'nominal', scale: splitColors, title: 'split' },
      order: { field: 'order', type: 'quantitative' },
      tooltip: [{ field: 'label' }, { field: 'split' }, { field: 'images' }],
    },
  };
}

const metricTitle: Record<string, string> = { logme: 'LogME evidence per image', probe: 'linear-probe accuracy (3-fold)' };

/** Transferability score per candidate depth, bottom to top: where it peaks decides the plan; the chosen cut stands out. */
export function transferabilityChart(plan: Plan): TopLevelSpec {
  const { similarity } = plan;
  const roles = ['cut layer', 'best score', 'other depth'];
  const values = similarity.scores.map((s) => ({
    layer: s.layer,
    score: s.score,
    role: s.layer === plan.cutLayer ? roles[0] : s.layer === similarity.best ? roles[1] : roles[2],
  }));
  return {
    config: baseConfig,
    width: { step: 80 },
    height: 200,
    data: { values },
    encoding: {
      x: { field: 'layer', type: 'nominal', sort: similarity.scores.map((s) => s.layer), title: 'candidate depth (bottom to top)', axis: { labelAngle: -30, grid: false } },
      y: { field: 'score', type: 'quantitative', title: metricTitle[similarity.metric ?? 'logme'], scale: { zero: false, nice: true } },
    },
    layer: [
      { mark: { type: 'line', color: '#9db4cf', strokeWidth: 2 } },
      {
        mark: { type: 'point', filled: true, size: 110 },
        encoding: {
          color: { field: 'role', type: 'nominal', scale: { domain: roles, range: ['#e45756', '#f2a541', '#4c78a8'] }, title: null },
          tooltip: [{ field: 'layer' }, { field: 'score', format: '.4f' }, { field: 'role' }],
        },
      },
      { mark: { type: 'text', dy: -12, fontSize: 10 }, encoding: { text: { field: 'score', type: 'quantitative', format: '.3f' } } },
    ],
  };
}

const phaseOrder = (epochs: EpochPoint[]) => [...new Set(epochs.map((e) => e.phase))];

/** Training and validation loss or accuracy per epoch, one panel per phase. */
export function curvesChart(epochs: EpochPoint[], metric: 'loss' | 'accuracy'): TopLevelSpec {
  const validationKey = metric === 'loss' ? 'valLoss' : 'valAccuracy';
  const values = epochs.flatMap((e) => [
    ...(e[metric] !== undefined ? [{ phase: e.phase, epoch: e.epoch + 1, split: 'train', value: e[metric] }] : []),
    ...(e[validationKey] !== undefined ? [{ phase: e.phase, epoch: e.epoch + 1, split: 'validation', value: e[validationKey] }] : []),
  ]);
  return {
    config: baseConfig,
    data: { values },
    facet: { column: { field: 'phase', type: 'nominal', sort: phaseOrder(epochs), title: null, header: { labelFontSize: 12, labelFontWeight: 'bold' } } },
    spec: {
      width: 260,
      height: 180,
      mark: { type: 'line', point: true, strokeWidth: 2 },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } },
        y: { field: 'value', type: 'quantitative', title: metric, ...(metric === 'accuracy' ? { scale: { domain: [0, 1] } } : { scale: { zero: false } }) },
        color: { field: 'split', type: 'nominal', scale: { domain: splitColors.domain.slice(0, 2), range: splitColors.range.slice(0, 2) }, title: null },
        tooltip: [{ field: 'phase' }, { field: 'epoch' }, { field: 'split' }, { field: 'value', format: '.4f' }],
      },
    },
    resolve: { scale: { x: 'independent' } },
  };
}

/** The learning rate of every epoch, phases one after another. */
export function learningRateChart(epochs: EpochPoint[]): TopLevelSpec {
  const values = epochs.filter((e) => e.learningRate !== undefined && e.learningRate > 0).map((e, step) => ({ step: step + 1, phase: e.phase, epoch: e.epoch + 1, learningRate: e.learningRate }));
  return {
    config: baseConfig,
    width: 360,
    height: 170,
    data: { values },
    mark: { type: 'line', point: true, interpolate: 'step-after' },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'epoch (all phases)', axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'learningRate', type: 'quantitative', scale: { type: 'log' }, title: 'learning rate', axis: { format: '~g', tickCount: 4 } },
      color: { field: 'phase', type: 'nominal', sort: phaseOrder(epochs), scale: { range: ['#4c78a8', '#b279a2', '#72b7b2'] } },
      tooltip: [{ field: 'phase' }, { field: 'epoch' }, { field: 'learningRate', format: '.3e' }],
    },
  };
}

/** Validation confusion matrix: rows the true class, columns the predicted one, shaded by the share of the row. */
export function confusionChart(review: ValidationReview): TopLevelSpec {
  const values = review.labels.flatMap((trueLabel, t) => {
    const support = review.confusion[t].reduce((a, b) => a + b, 0);
    return review.labels.map((predicted, p) => ({ trueLabel, predicted, count: review.confusion[t][p], share: support > 0 ? review.confusion[t][p] / support : 0 }));
  });
  const cell = Math.max(22, Math.min(56, Math.floor(440 / Math.max(review.labels.length, 1))));
  return {
    config: baseConfig,
    width: { step: cell },
    height: { step: cell },
    data: { values },
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: review.labels, title: 'predicted', axis: { orient: 'top', labelAngle: -40, grid: false } },
      y: { field: 'trueLabel', type: 'nominal', sort: review.labels, title: 'true', axis: { grid: false } },
    },
    layer: [
      {
        mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
        encoding: {
          color: { field: 'share', type: 'quantitative', scale: { scheme: 'blues', domain: [0, 1] }, title: 'share of row', legend: { format: '.0%' } },
          tooltip: [{ field: 'trueLabel', title: 'true' }, { field: 'predicted' }, { field: 'count' }, { field: 'share', format: '.1%' }],
        },
      },
      {
        mark: { type: 'text', fontSize: 11 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: '#1f2937' },
        },
      },
    ],
  };
}

/** Precision, recall and F1 per class on the validation images. */
export function perClassChart(review: ValidationReview): TopLevelSpec {
  const values = review.labels.flatMap((label) =>
    (['precision', 'recall', 'f1'] as const).map((metric) => ({ label, metric: metric === 'f1' ? 'F1' : metric, value: review.perClass[label][metric] })),
  );
  return {
    config: baseConfig,
    width: 420,
    height: { step: 9 },
    data: { values },
    mark: 'bar',
    encoding: {
      y: { field: 'label', type: 'nominal', sort: review.labels, title: 'class' },
      yOffset: { field: 'metric', type: 'nominal', sort: ['precision', 'recall', 'F1'] },
      x: { field: 'value', type: 'quantitative', scale: { domain: [0, 1] }, title: null },
      color: { field: 'metric', type: 'nominal', sort: ['precision', 'recall', 'F1'], scale: { range: ['#4c78a8', '#72b7b2', '#e45756'] }, title: null },
      tooltip: [{ field: 'label' }, { field: 'metric' }, { field: 'value', format: '.3f' }],
    },
  };
}
