import os from 'node:os';
import type { ImageRecord } from '../data/dataset';
import { hashPosition } from '../data/split-dataset';
import { extractFeatures } from '../features/extract-features';
import type { FeatureCache } from '../features/feature-cache';
import { createProbeRunner } from '../features/frozen-runner';
import type { Logger } from '../logger';
import type { BaseModel } from '../models/base-model';
import type { Progress } from '../progress';
import type { DecodeOptions, ImageDecoder } from '../preprocess/image-decoder';
import { logme } from './logme';
import { linearProbeAccuracy } from './linear-probe';
import { judgeSimilarity, type Similarity, type SimilarityMetric } from './similarity';

export interface MeasureSimilarityArgs {
  base: BaseModel;
  train: ImageRecord[];
  labels: string[];
  layers: string[];
  maxImages: number;
  margin: number;
  metric: SimilarityMetric;
  decoder: ImageDecoder;
  decode: DecodeOptions;
  preprocessing: string;
  cache: FeatureCache;
  concurrency: number;
  batchSize: number;
  workers: number;
  /** Run the probe compiled (runtime.compiledForward); default true. */
  compiled?: boolean;
  logger: Logger;
  progress?: Progress;
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
 * Scores the frozen features of every candidate depth on a sample of the training images (one
 * forward pass, cached like any features) with LogME or a linear probe, and judges where transfer peaks.
 */
export async function measureSimilarity(args: MeasureSimilarityArgs): Promise<Similarity> {
  const sample = stratifiedSample(args.train, args.labels, args.maxImages);
  const runner = createProbeRunner(args.base, args.layers, args.decode.size, { compiled: args.compiled });
  let extracted: Awaited<ReturnType<typeof extractFeatures>>;
  try {
    extracted = await extractFeatures(runner, sample, {
      decoder: args.decoder,
      decode: args.decode,
      concurrency: args.concurrency,
      batchSize: args.batchSize,
      cache: args.cache,
      keyParts: { baseSha256: args.base.sha256, cutLayer: probeKeyLayer(args.layers, runner.gridWidths.length > 0), preprocessing: args.preprocessing },
      logger: args.logger,
      progress: args.progress,
      progressLabel: 'probe features',
      workers: args.workers || Math.min(os.availableParallelism(), 4),
    });
  } finally {
    runner.dispose();
  }
  const labels = sample.map((r) => args.labels.indexOf(r.label));
  let offset = 0;
  const take = (width: number) => {
    const features = extracted.features.map((vector) => vector.subarray(offset, offset + width));
    offset += width;
    return features;
  };
  const averaged = runner.widths.map(take);
  const gridded = runner.gridWidths.map(take);
  const probeAccuracy = (features: Float32Array[]) => linearProbeAccuracy(features, labels, args.labels.length, { folds: 3, seed: 0 });
  const scores = args.layers.map((layer, depth) => ({
    layer,
    score: args.metric === 'probe' ? probeAccuracy(averaged[depth]) : logme(averaged[depth], labels, args.labels.length),
  }));
  for (const s of scores) args.logger.info(`  transferability ${s.layer}: ${s.score.toFixed(4)}`);
  const similarity = judgeSimilarity(scores, args.margin, sample.length, args.metric);
  // Below the top, whether the head should see where features appear is measured too. LogME rewarded
  // the grid's extra features on data where it generalized worse (natural photos); probes did not.
  const best = args.layers.indexOf(similarity.best ?? '');
  if (gridded.length > 0 && best >= 0 && best < args.layers.length - 1) {
    similarity.pooling = { layer: args.layers[best], average: probeAccuracy(averaged[best]), grid: probeAccuracy(gridded[best]) };
    args.logger.info(`  pooling at ${similarity.pooling.layer}: whole image ${similarity.pooling.average.toFixed(3)}, 2x2 grid ${similarity.pooling.grid.toFixed(3)} (3-fold linear probe)`);
  }
  return similarity;
}

/** The feature-cache name of the depth probe's output. */
export function probeKeyLayer(layers: string[], grid: boolean): string {
  return `probe${grid ? '+grid' : ''}:${layers.join(',')}`;
}
