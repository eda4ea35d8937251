import { inject, injectable } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import { FeatureCache } from '../features/feature-cache';
import { boundaryKeyParts } from '../features/feature-key-parts';
import { createFrozenRunner, type FrozenRunner } from '../features/frozen-runner';
import { Logger } from '../logger';
import { extractDatasetFeatures, type DatasetFeatures } from '../pipeline/extract-dataset-features';
import type { Stage, StageServices } from '../pipeline/stage';
import { crossValidates, selectionFolds, selectionMatrix } from '../pipeline/train-by-selection';
import { ImageDecoder } from '../preprocess/image-decoder';
import { alternativeDepth } from '../select/alternative-depth';
import { defaultStrengths, type CrossValidatedLogistic } from '../select/cross-validated-logistic';
import { selectDepth } from '../select/select-depth';
import type { BaseOutput } from './base-stage';
import type { ExtractOutput } from './extract-stage';
import { extractionOptions } from './extraction-options';
import type { PlanOutput } from './plan-stage';
import type { ScanOutput } from './scan-stage';
import { labelledImages } from './selection-plan-stage';
import type * as tf from '@tensorflow/tfjs';

export type SelectDepthInput = Pick<BaseOutput, 'base' | 'input'> & Pick<ScanOutput, 'dataset'> & PlanOutput & ExtractOutput;

export interface SelectDepthOutput {
  /** The plan with `depth`, and the chosen cut. */
  plan: PlanOutput['plan'];
  frozen: FrozenRunner<tf.Tensor>;
  features: DatasetFeatures;
  /** The chosen depth's cross-validated logistic regression (select reuses it). */
  baseline: CrossValidatedLogistic;
}

/**
 * select-depth: on small data, when the similarity measurement found another depth close to the
 * plan's cut, that depth's features are extracted too (cached like the cut's) and the logistic
 * regression is cross-validated on both; the head then reads the depth that scored higher.
 */
@injectable()
export class SelectDepthStage implements Stage<SelectDepthInput, Partial<SelectDepthOutput>> {
  readonly name = 'select-depth';
  readonly timing = 'select_depth_s';

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
    @inject(ImageDecoder) private readonly decoder: ImageDecoder,
    @inject(FeatureCache) private readonly cache: FeatureCache,
  ) {}

  readonly applies = ({ dataset, plan }: SelectDepthInput) =>
    crossValidates(this.config, plan, labelledImages(dataset)) && alternativeDepth(plan.similarity, plan.cutLayer, this.config.policy.similarityMargin) !== undefined;

  readonly run = async (input: SelectDepthInput, services: StageServices): Promise<Partial<SelectDepthOutput>> => {
    const { plan, features } = input;
    const layer = alternativeDepth(plan.similarity, plan.cutLayer, this.config.policy.similarityMargin)!;
    this.logger.info(`depth: ${layer} scored close to ${plan.cutLayer}; cross-validating the logistic regression on both`);
    const other = await this.extractAt(layer, input, services);
    const planned = selectionMatrix(features);
    const alternative = selectionMatrix(other.features);
    if (alternative.labels.join() !== planned.labels.join()) {
      this.logger.warn(`depth: the images changed during extraction; the plan's depth ${plan.cutLayer} is kept`);
      return {};
    }
    const numClasses = input.dataset.labels.length;
    const { selection, chosen, baselines } = await selectDepth({
      candidates: [
        { layer: plan.cutLayer, features: planned.features },
        { layer, features: alternative.features },
      ],
      labels: planned.labels,
      numClasses,
      foldOf: selectionFolds(this.config, planned.labels, numClasses),
      strengths: defaultStrengths,
    });
    this.logger.info(`  ${selection.reason}`);
    const depthPlan = { ...plan, depth: selection };
    if (chosen === 0) return { plan: depthPlan, baseline: baselines[0] };
    const policy = layer === input.base.lastFeatureLayer ? ('head' as const) : ('intermediate' as const);
    const reasons = [...plan.reasons, selection.reason];
    return { plan: { ...depthPlan, policy, cutLayer: layer, reasons }, frozen: other.frozen, features: other.features, baseline: baselines[1] };
  };

  private async extractAt(layer: string, { base, input, dataset, plan }: SelectDepthInput, services: StageServices): Promise<ExtractOutput> {
    const frozen = createFrozenRunner(base, layer, input.size, { pooling: plan.pooling, compiled: this.config.runtime.compiledForward });
    services.own(frozen);
    const keyParts = boundaryKeyParts({ ...plan, cutLayer: layer }, base.sha256, input.preprocessing);
    const features = await extractDatasetFeatures(frozen, dataset, {
      ...extractionOptions(this.config, { decoder: this.decoder, cache: this.cache, logger: this.logger }, input, keyParts),
      augment: { ...this.config.augment, seed: this.config.train.seed },
    });
    services.own({ dispose: () => features.tensors.forEach((t) => t.dispose()) });
    return { frozen, features };
  }
}
