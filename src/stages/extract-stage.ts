import type * as tf from '@tensorflow/tfjs';
import { inject, injectable } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import { FeatureCache } from '../features/feature-cache';
import { createFrozenRunner, type FrozenRunner } from '../features/frozen-runner';
import { Logger } from '../logger';
import { extractDatasetFeatures, type DatasetFeatures } from '../pipeline/extract-dataset-features';
import type { Stage, StageServices } from '../pipeline/stage';
import { ImageDecoder } from '../preprocess/image-decoder';
import { Progress } from '../progress';
import type { BaseOutput } from './base-stage';
import { extractionOptions } from './extraction-options';
import type { PlanOutput } from './plan-stage';
import type { ScanOutput } from './scan-stage';

export type ExtractInput = Pick<BaseOutput, 'base' | 'input'> & Pick<ScanOutput, 'dataset'> & PlanOutput;

export interface ExtractOutput {
  /** The frozen part up to the plan's boundary (the export composes it with the head). */
  frozen: FrozenRunner<tf.Tensor>;
  /** Every split's features (training images with their augmented views); the job owns the tensors. */
  features: DatasetFeatures;
}

/** extract: the frozen part's output for every image, computed once and cached. */
@injectable()
export class ExtractStage implements Stage<ExtractInput, ExtractOutput> {
  readonly name = 'extract';
  readonly timing = 'extract_s';

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
    @inject(ImageDecoder) private readonly decoder: ImageDecoder,
    @inject(FeatureCache) private readonly cache: FeatureCache,
    @inject(Progress) private readonly progress: Progress,
  ) {}

  readonly run = async ({ base, input, dataset, plan, keyParts }: ExtractInput, services: StageServices): Promise<ExtractOutput> => {
    const { config, logger, cache } = this;
    const frozen = plan.fineTune
      ? createFrozenRunner(base, plan.cutLayer, input.size, { pool: false, compiled: config.runtime.compiledForward })
      : createFrozenRunner(base, plan.cutLayer, input.size, { pooling: plan.pooling, compiled: config.runtime.compiledForward });
    services.own(frozen);
    const features = await extractDatasetFeatures(frozen, dataset, {
      ...extractionOptions(config, { decoder: this.decoder, cache, logger, progress: this.progress }, input, keyParts),
      augment: { ...config.augment, seed: config.train.seed },
    });
    services.own({ dispose: () => features.tensors.forEach((t) => t.dispose()) });
    const pruned = cache.prune();
    if (pruned.removed > 0) logger.info(`feature cache: removed ${pruned.removed} least recently used entries (now ${(pruned.bytes / 2 ** 20).toFixed(0)} MiB)`);
    logger.info(`features: ${features.computed} computed, ${features.fromCache} from cache`);
    return { frozen, features };
  };

  readonly rates = ({ features }: ExtractOutput, seconds: number) => ({ extract_img_per_s: features.computed / Math.max(seconds, 1e-9) });
}
