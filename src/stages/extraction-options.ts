import type { FinetuneConfig } from '../config/schema';
import { workerCount } from '../config/worker-count';
import type { ExtractFeaturesOptions } from '../features/extract-features';
import type { FeatureCache } from '../features/feature-cache';
import type { FeatureKeyParts } from '../features/feature-key-parts';
import type { Logger } from '../logger';
import type { DecodeOptions, ImageDecoder } from '../preprocess/image-decoder';
import type { Progress } from '../progress';

/** How every stage that extracts features extracts them (train, plan's probe and doctor share the cache). */
export function extractionOptions(
  config: FinetuneConfig,
  services: { decoder: ImageDecoder; cache: FeatureCache; logger: Logger; progress?: Progress },
  decode: DecodeOptions,
  keyParts: FeatureKeyParts,
): ExtractFeaturesOptions {
  return {
    ...services,
    decode,
    keyParts,
    concurrency: config.preprocess.concurrency,
    batchSize: config.train.batchSize,
    workers: workerCount(config.preprocess.extractWorkers),
  };
}
