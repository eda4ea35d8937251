import { inject, injectable } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import { fingerprintImages, type ImageFingerprint } from '../doctor/image-fingerprint';
import type { Stage } from '../pipeline/stage';
import type { ScanOutput } from './scan-stage';

export interface FingerprintOutput {
  /** Sizes, colour models and normalized thumbnails of every usable image. */
  fingerprints: ImageFingerprint[];
}

/** doctor: what the data checks compare (duplicates across classes, tiny or mixed-mode images). */
@injectable()
export class FingerprintStage implements Stage<Pick<ScanOutput, 'dataset'>, FingerprintOutput> {
  readonly name = 'fingerprint';
  readonly timing = 'fingerprint_s';

  constructor(@inject(FinetuneConfig) private readonly config: FinetuneConfig) {}

  readonly run = async ({ dataset }: Pick<ScanOutput, 'dataset'>): Promise<FingerprintOutput> => ({
    fingerprints: await fingerprintImages([...dataset.train, ...dataset.val, ...dataset.test], this.config.preprocess.concurrency),
  });
}
