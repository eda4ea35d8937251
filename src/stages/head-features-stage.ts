import * as tf from '@tensorflow/tfjs';
import { inject, injectable } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import { extractFeatures } from '../features/extract-features';
import { FeatureCache } from '../features/feature-cache';
import { pooledKeyParts } from '../features/feature-key-parts';
import { createFrozenRunner } from '../features/frozen-runner';
import { Logger } from '../logger';
import type { Stage, StageServices } from '../pipeline/stage';
import { ImageDecoder } from '../preprocess/image-decoder';
import { featureStatistics, standardize } from '../train/standardize';
import type { LabelledFeatures } from '../train/train-head';
import type { BaseOutput } from './base-stage';
import { extractionOptions } from './extraction-options';
import type { PlanOutput } from './plan-stage';
import type { ScanOutput } from './scan-stage';

export type HeadFeaturesInput = Pick<BaseOutput, 'base' | 'input'> & Pick<ScanOutput, 'dataset'> & PlanOutput;

export interface HeadFeaturesOutput {
  /** Layer whose pooled output the head reads, and how many features came from the cache. */
  headFeatures: { layer: string; computed: number; fromCache: number };
  /** Training features as extracted (before standardization), in dataset.train order. */
  rawTrain: tf.Tensor2D;
  /** Standardized with the training statistics, as the head learns on them. */
  train: LabelledFeatures;
  val?: LabelledFeatures;
}

/**
 * doctor: the head's input as `train`'s head phase sees it: pooled features at the cut, or (when
 * the plan fine-tunes) at the top of the fine-tuned blocks, before the blocks change; standardized.
 */
@injectable()
export class HeadFeaturesStage implements Stage<HeadFeaturesInput, HeadFeaturesOutput> {
  readonly name = 'head-features';
  readonly timing = 'extract_s';

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
    @inject(ImageDecoder) private readonly decoder: ImageDecoder,
    @inject(FeatureCache) private readonly cache: FeatureCache,
  ) {}

  readonly run = async ({ base, input, dataset, plan, keyParts }: HeadFeaturesInput, services: StageServices): Promise<HeadFeaturesOutput> => {
    const layer = plan.fineTune ? plan.fineTune.until : plan.cutLayer;
    const runner = createFrozenRunner(base, layer, input.size, { pooling: plan.fineTune ? 'average' : plan.pooling, compiled: this.config.runtime.compiledForward });
    services.own(runner);
    const parts = plan.fineTune ? pooledKeyParts(layer, base.sha256, input.preprocessing) : keyParts;
    const extracted = await extractFeatures(runner, [...dataset.train, ...dataset.val], extractionOptions(this.config, { decoder: this.decoder, cache: this.cache, logger: this.logger }, input, parts));
    this.logger.info(`features at ${layer}: ${extracted.computed} computed, ${extracted.fromCache} from cache`);
    const tensors: tf.Tensor[] = [];
    services.own({ dispose: () => tf.dispose(tensors) });
    const width = extracted.features[0]?.length ?? 0;
    const stack = (features: Float32Array[]) => {
      const flat = new Float32Array(features.length * width);
      features.forEach((f, i) => flat.set(f, i * width));
      const x = tf.tensor2d(flat, [features.length, width]);
      tensors.push(x);
      return x;
    };
    const rawTrain = stack(extracted.features.slice(0, dataset.train.length));
    const rawVal = dataset.val.length > 0 ? stack(extracted.features.slice(dataset.train.length)) : undefined;
    const stats = featureStatistics(rawTrain);
    tensors.push(stats.mean, stats.std);
    const labelsOf = (part: typeof dataset.train) => part.map((r) => dataset.labels.indexOf(r.label));
    const train = { x: standardize(rawTrain, stats), labels: labelsOf(dataset.train) };
    tensors.push(train.x);
    const val = rawVal ? { x: standardize(rawVal, stats), labels: labelsOf(dataset.val) } : undefined;
    if (val) tensors.push(val.x);
    return { headFeatures: { layer, computed: extracted.computed, fromCache: extracted.fromCache }, rawTrain, train, ...(val ? { val } : {}) };
  };
}
