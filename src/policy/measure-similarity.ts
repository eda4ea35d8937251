import type { ImageRecord } from '../data/dataset';
import { hashPosition } from '../data/split-dataset';
import type { Logger } from '../logger';
import { logme } from './logme';
import { linearProbeAccuracy } from './linear-probe';
import { judgeSimilarity, type Similarity, type SimilarityMetric } from './similarity';

export interface MeasureSimilarityArgs {
  /** Per sampled image, the probe's output: every candidate layer's pooled features side by side, then their 2x2 grids. */
  features: Float32Array[];
  /** Class index of each sampled image. */
  sampleLabels: number[];
  numClasses: number;
  layers: string[];
  /** Width of each layer's pooled features, and of its grid (empty when the probe has no grids). */
  widths: number[];
  gridWidths: number[];
  margin: number;
  metric: SimilarityMetric;
  logger: Logger;
  /** Compare whole-image and grid pooling at the best depth. False when cross-validation of the readouts will decide it on every image. */
  comparePooling: boolean;
}

/** Up to `count` images, each class in proportion, chosen by content hash so the sample is stable. */
export function stratifiedSample(records: ImageRecord[], labels: string[], count: number): ImageRecord[] {
  if (records.length <= count) return records;
  return labels.flatMap((label) => {
    const members = records.filter((r) => r.label === label).sort((a, b) => hashPosition(a.sha256) - hashPosition(b.sha256));
    return members.slice(0, Math.max(2, Math.round((count * members.length) / records.length)));
  });
}

/**
 * Scores the frozen features of every candidate depth on a sample of the training images (the
 * measure stage extracts them, cached like any features) with LogME or a linear probe, and judges
 * where transfer peaks.
 */
export function measureSimilarity(args: MeasureSimilarityArgs): Similarity {
  const labels = args.sampleLabels;
  let offset = 0;
  const take = (width: number) => {
    const features = args.features.map((vector) => vector.subarray(offset, offset + width));
    offset += width;
    return features;
  };
  const averaged = args.widths.map(take);
  const gridded = args.gridWidths.map(take);
  const probeAccuracy = (features: Float32Array[]) => linearProbeAccuracy(features, labels, args.numClasses, { folds: 3, seed: 0 });
  const scores = args.layers.map((layer, depth) => ({
    layer,
    score: args.metric === 'probe' ? probeAccuracy(averaged[depth]) : logme(averaged[depth], labels, args.numClasses),
  }));
  for (const s of scores) args.logger.info(`  transferability ${s.layer}: ${s.score.toFixed(4)}`);
  const similarity = judgeSimilarity(scores, args.margin, labels.length, args.metric);
  // Below the top, whether the head should see where features appear is measured too. LogME rewarded
  // the grid's extra features on data where it generalized worse (natural photos); probes did not.
  const best = args.layers.indexOf(similarity.best ?? '');
  if (args.comparePooling && gridded.length > 0 && best >= 0 && best < args.layers.length - 1) {
    similarity.pooling = { layer: args.layers[best], average: probeAccuracy(averaged[best]), grid: probeAccuracy(gridded[best]) };
    args.logger.info(`  pooling at ${similarity.pooling.layer}: whole image ${similarity.pooling.average.toFixed(3)}, 2x2 grid ${similarity.pooling.grid.toFixed(3)} (3-fold linear probe)`);
  } else if (!args.comparePooling && gridded.length > 0) {
    args.logger.info('  pooling: left to the cross-validation of the readouts, on every training image');
  }
  return similarity;
}
