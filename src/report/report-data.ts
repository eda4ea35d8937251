import path from 'node:path';
import { countByLabel, type Dataset, type ImageRecord, type SkippedFile, type SplitName } from '../data/dataset';
import { classificationReport, type ClassificationReport } from '../evaluate/classification-metrics';
import type { Plan } from '../policy/plan';
import { readEpochRecords, type RunDirectory } from '../runs/run-directory';
import { thumbnailDataUri } from './thumbnail';
import { predictedIndices, topLosses } from './top-losses';

/** One epoch of one phase, as metrics.jsonl records it. */
export interface EpochPoint {
  phase: string;
  epoch: number;
  learningRate?: number;
  loss?: number;
  accuracy?: number;
  valLoss?: number;
  valAccuracy?: number;
  seconds?: number;
}

export interface Thumbnail {
  /** Path relative to the data folder. */
  file: string;
  /** data:image/jpeg;base64,... or undefined when the file would not decode. */
  dataUri?: string;
}

export interface DatasetSummary {
  root: string;
  layout: Dataset['layout'];
  labels: string[];
  /** Images per class in each split. */
  counts: Record<SplitName, Record<string, number>>;
  /** A few training images per class. */
  thumbnails: Record<string, Thumbnail[]>;
  skipped: SkippedFile[];
}

export interface TopLossImage extends Thumbnail {
  trueLabel: string;
  predictedLabel: string;
  /** Probability of the predicted label. */
  confidence: number;
  trueProbability: number;
  loss: number;
}

/** How the trained classifier does on the validation images, image by image. */
export interface ValidationReview extends ClassificationReport {
  /** Highest-loss validation images first: the most confidently wrong. */
  topLosses: TopLossImage[];
}

/** Everything report.html shows, kept as report-data.json in the run folder so the page can be rebuilt. */
export interface ReportData {
  formatVersion: 1;
  runId: string;
  name: string;
  status: 'succeeded' | 'failed';
  /** Why the run failed, when it did. */
  error?: string;
  createdAt: string;
  exportDir?: string;
  backend?: { name: string; reason: string };
  dataset?: DatasetSummary;
  plan?: Plan;
  epochs: EpochPoint[];
  /** The epoch each phase restored (early stopping keeps the best weights). */
  bestEpochs?: Record<string, number>;
  metrics?: Record<string, { loss: number; accuracy: number; n: number }>;
  validation?: ValidationReview;
  timings?: Record<string, number>;
}

export const thumbnailsPerClass = 6;
export const topLossCount = 12;

const relativeTo = (root: string, file: string) => path.relative(root, file) || file;

/** Per-class counts per split, a few thumbnails per class, and the skipped files with their reasons. */
export async function summarizeDataset(dataset: Dataset, perClass = thumbnailsPerClass): Promise<DatasetSummary> {
  const thumbnails: Record<string, Thumbnail[]> = {};
  for (const label of dataset.labels) {
    const examples = dataset.train.filter((r) => r.label === label).sort((a, b) => (a.path < b.path ? -1 : 1)).slice(0, perClass);
    thumbnails[label] = await Promise.all(examples.map(async (r) => ({ file: relativeTo(dataset.root, r.path), dataUri: await thumbnailDataUri(r.path) })));
  }
  return {
    root: path.resolve(dataset.root),
    layout: dataset.layout,
    labels: dataset.labels,
    counts: {
      train: countByLabel(dataset.train, dataset.labels),
      val: countByLabel(dataset.val, dataset.labels),
      test: countByLabel(dataset.test, dataset.labels),
    },
    thumbnails,
    skipped: dataset.skipped.map((s) => ({ path: relativeTo(dataset.root, s.path), reason: s.reason })),
  };
}

/**
 * Confusion matrix, per-class precision/recall/F1 and the top losses of the validation images,
 * from the trained classifier's probabilities ([images x classes] row-major, in `records` order).
 */
export async function reviewValidation(args: {
  records: ImageRecord[];
  labels: string[];
  probabilities: ArrayLike<number>;
  root: string;
  count?: number;
}): Promise<ValidationReview> {
  const numClasses = args.labels.length;
  const trueIndices = args.records.map((r) => args.labels.indexOf(r.label));
  const report = classificationReport(trueIndices, predictedIndices(args.probabilities, numClasses), args.labels);
  const worst = topLosses(args.probabilities, numClasses, trueIndices, args.count ?? topLossCount);
  return {
    n: report.n,
    accuracy: report.accuracy,
    labels: report.labels,
    confusion: report.confusion,
    perClass: report.perClass,
    topLosses: await Promise.all(
      worst.map(async (w) => ({
        file: relativeTo(args.root, args.records[w.index].path),
        dataUri: await thumbnailDataUri(args.records[w.index].path),
        trueLabel: args.labels[w.trueIndex],
        predictedLabel: args.labels[w.predictedIndex],
        confidence: w.confidence,
        trueProbability: w.trueProbability,
        loss: w.loss,
      })),
    ),
  };
}

/** The epochs metrics.jsonl recorded, whether the run finished or not. */
export function epochPoints(run: RunDirectory): EpochPoint[] {
  const number = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
  return readEpochRecords(run).map((record) => {
    const point: EpochPoint = { phase: String(record.phase), epoch: Number(record.epoch) };
    for (const key of ['learningRate', 'loss', 'accuracy', 'valLoss', 'valAccuracy', 'seconds'] as const) {
      const value = number(record[key]);
      if (value !== undefined) point[key] = value;
    }
    return point;
  });
}

/** The report of a run from what the pipeline has at its end (or at the point it failed). */
export async function buildReportData(args: {
  run: RunDirectory;
  name: string;
  status: ReportData['status'];
  error?: string;
  dataset?: Dataset;
  plan?: Plan;
  backend?: { name: string; reason: string };
  exportDir?: string;
  metrics?: ReportData['metrics'];
  phases?: { name: string; bestEpoch: number }[];
  /** The trained classifier's probabilities for validationRecords, [images x classes] row-major. */
  validationProbabilities?: ArrayLike<number>;
  /** The images those probabilities are of: dataset.val unless given (cross-validation: every training image, out of fold). */
  validationRecords?: ImageRecord[];
  timings?: Record<string, number>;
}): Promise<ReportData> {
  const { dataset } = args;
  const reviewed = args.validationRecords ?? dataset?.val ?? [];
  return {
    formatVersion: 1,
    runId: args.run.id,
    name: args.name,
    status: args.status,
    ...(args.error !== undefined ? { error: args.error } : {}),
    createdAt: new Date().toISOString(),
    ...(args.exportDir ? { exportDir: args.exportDir } : {}),
    ...(args.backend ? { backend: args.backend } : {}),
    ...(dataset ? { dataset: await summarizeDataset(dataset) } : {}),
    ...(args.plan ? { plan: args.plan } : {}),
    epochs: epochPoints(args.run),
    ...(args.phases ? { bestEpochs: Object.fromEntries(args.phases.map((p) => [p.name, p.bestEpoch])) } : {}),
    ...(args.metrics ? { metrics: args.metrics } : {}),
    ...(dataset && args.validationProbabilities && reviewed.length > 0
      ? { validation: await reviewValidation({ records: reviewed, labels: dataset.labels, probabilities: args.validationProbabilities, root: dataset.root }) }
      : {}),
    ...(args.timings ? { timings: args.timings } : {}),
  };
}
