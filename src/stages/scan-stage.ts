import { inject, injectable } from 'inversify';
import path from 'node:path';
import { FinetuneConfig } from '../config/schema';
import { countByLabel, type Dataset } from '../data/dataset';
import { loadDataset } from '../data/load-dataset';
import { featureKey } from '../features/disk-feature-cache';
import { FeatureCache } from '../features/feature-cache';
import { boundaryKeyParts, probeKeyParts } from '../features/feature-key-parts';
import { Logger } from '../logger';
import { requireLayer } from '../models/network-surgery';
import type { Stage } from '../pipeline/stage';
import { chooseFreezeBoundary, type PlanInputs } from '../policy/plan';
import { ImageDecoder } from '../preprocess/image-decoder';
import { Progress } from '../progress';
import type { BaseOutput } from './base-stage';

export type BoundaryInputs = Parameters<typeof chooseFreezeBoundary>[0] & Pick<PlanInputs, 'headLayers'>;

export interface ScanOutput {
  dataset: Dataset;
  /** What the freeze boundary depends on besides the data (policy, base, head). */
  boundaryInputs: BoundaryInputs;
  /** Depths the similarity is measured at. */
  candidateLayers: string[];
}

export function headLayerNames(hiddenUnits: number): string[] {
  return hiddenUnits > 0 ? ['head_hidden', 'head_probabilities'] : ['head_probabilities'];
}

/** prepare (3/4): checks, reads and splits the data folder; images whose features are cached are vouched for without decoding. */
@injectable()
export class ScanStage implements Stage<{ dataDir: string } & BaseOutput, ScanOutput> {
  readonly name = 'scan';
  readonly timing = 'scan_s';

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
    @inject(ImageDecoder) private readonly decoder: ImageDecoder,
    @inject(FeatureCache) private readonly cache: FeatureCache,
    @inject(Progress) private readonly progress: Progress,
  ) {}

  readonly run = async ({ dataDir, base, input }: { dataDir: string } & BaseOutput): Promise<ScanOutput> => {
    const { config, logger } = this;
    const boundaryInputs: BoundaryInputs = {
      base,
      requestedPolicy: config.policy.name,
      cutLayer: config.policy.cutLayer,
      topBlocks: config.policy.topBlocks,
      deepBlocks: config.policy.deepBlocks,
      headLayers: headLayerNames(config.train.hiddenUnits),
      requestedPooling: config.policy.pooling,
      gridMinImagesPerClass: config.policy.gridMinImagesPerClass,
    };
    // The cut layer depends only on the policy and the base, so cached features (at the likely
    // boundary or of the depth probe) can vouch for files before the data are read.
    const provisional = chooseFreezeBoundary(boundaryInputs);
    if (base.network.kind === 'layers') requireLayer(base.network.model, provisional.cutLayer);
    const candidateLayers = config.policy.candidateLayers.length > 0 ? config.policy.candidateLayers : base.candidateLayers;
    const vouching = [
      boundaryKeyParts(provisional, base.sha256, input.preprocessing),
      // Auto pooling also depends on the class sizes, not known yet.
      boundaryKeyParts({ ...provisional, pooling: 'average' }, base.sha256, input.preprocessing),
      ...[false, true].map((grid) => probeKeyParts(candidateLayers, grid, base.sha256, input.preprocessing)),
    ];
    logger.info(`checking images in ${path.resolve(dataDir)}`);
    const dataset = await loadDataset(dataDir, this.decoder, {
      validationFraction: config.data.validationFraction,
      minImagesPerClass: config.data.minImagesPerClass,
      decode: { fit: input.fit, maxInputPixels: input.maxInputPixels, concurrency: config.preprocess.concurrency },
      knownGood: (sha256) => vouching.some((parts) => this.cache.has(featureKey({ imageSha256: sha256, ...parts }))),
      progress: this.progress,
    });
    this.describe(dataset);
    return { dataset, boundaryInputs, candidateLayers };
  };

  private describe(dataset: Dataset): void {
    const { logger } = this;
    logger.info(
      `data: ${dataset.labels.length} classes, ${dataset.train.length} train / ${dataset.val.length} val / ${dataset.test.length} test images` +
        `${dataset.skipped.length ? `, ${dataset.skipped.length} skipped` : ''}`,
    );
    for (const skipped of dataset.skipped) logger.warn(`skipped ${skipped.path}: ${skipped.reason}`);
    const valCounts = countByLabel(dataset.val, dataset.labels);
    const unmeasured = dataset.labels.filter((label) => valCounts[label] === 0);
    if (unmeasured.length > 0) {
      logger.warn(`no validation image for ${unmeasured.join(', ')}: add images or raise data.validationFraction to measure ${unmeasured.length > 1 ? 'them' : 'it'}`);
    }
  }
}
