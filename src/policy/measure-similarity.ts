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
  const runner = createProbeRunner(args.base, args.layers, args.decode.size);
  const extracted = await extractFeatures(runner, sample, {
    decoder: args.decoder,
    decode: args.decode,
    concurrency: args.concurrency,
    batchSize: args.batchSize,
    cache: args.cache,
    keyParts: { baseSha256: args.base.sha256, cutLayer: `probe:${args.layers.join(',')}`, preprocessing: args.preprocessing },
    logger: args.logger,
    progress: args.progress,
    progressLabel: 'probe features',
    workers: args.workers || Math.min(os.availableParallelism(), 4),
  });
  const labels = sample.map((r) => args.labels.indexOf(r.label));
  let offset = 0;
  const scores = args.layers.map((layer, depth) => {
    const width = runner.widths[depth];
    const features = extracted.features.map((vector) => vector.subarray(offset, offset + width));
    offset += width;
    const score =
      args.metric === 'probe'
        ? linearProbeAccuracy(features, labels, args.labels.length, { folds: 3, seed: 0 })
        : logme(features, labels, args.labels.length);
    return { layer, score };
  });
  for (const s of scores) args.logger.info(`  transferability ${s.layer}: ${s.score.toFixed(4)}`);
  return judgeSimilarity(scores, args.margin, sample.length, args.metric);
}
