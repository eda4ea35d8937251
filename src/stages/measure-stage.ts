import { inject, injectable } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import { extractFeatures } from '../features/extract-features';
import { FeatureCache } from '../features/feature-cache';
import { probeKeyParts } from '../features/feature-key-parts';
import { createProbeRunner } from '../features/frozen-runner';
import { Logger } from '../logger';
import type { Stage, StageServices } from '../pipeline/stage';
import { readoutsCrossValidated } from '../pipeline/train-by-selection';
import { measureSimilarity, stratifiedSample } from '../policy/measure-similarity';
import type { Similarity } from '../policy/similarity';
import { ImageDecoder } from '../preprocess/image-decoder';
import { Progress } from '../progress';
import type { BaseOutput } from './base-stage';
import { extractionOptions } from './extraction-options';
import type { ScanOutput } from './scan-stage';

export type MeasureInput = BaseOutput & Pick<ScanOutput, 'dataset' | 'candidateLayers'>;

export interface MeasureOutput {
  /** Transferability at each candidate depth; absent when the policy is forced or the base is a GraphModel. */
  similarity?: Similarity;
}

/** measure: frozen features of a sample of the training images at every candidate depth, scored by the policy. */
@injectable()
export class MeasureStage implements Stage<MeasureInput, MeasureOutput> {
  readonly name = 'measure';
  readonly timing = 'probe_s';

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
    @inject(ImageDecoder) private readonly decoder: ImageDecoder,
    @inject(FeatureCache) private readonly cache: FeatureCache,
    @inject(Progress) private readonly progress: Progress,
  ) {}

  readonly applies = ({ base }: MeasureInput) => this.config.policy.name === 'auto' && base.network.kind === 'layers';

  readonly run = async ({ base, dataset, candidateLayers: layers, input }: MeasureInput, owner: StageServices): Promise<MeasureOutput> => {
    const { config, logger } = this;
    logger.info(`measuring similarity at ${layers.length} depths`);
    const sample = stratifiedSample(dataset.train, dataset.labels, config.policy.probeImages);
    const runner = createProbeRunner(base, layers, input.size, { compiled: config.runtime.compiledForward });
    owner.own(runner); // its compiled weights
    const services = { decoder: this.decoder, cache: this.cache, logger, progress: this.progress };
    const extracted = await extractFeatures(runner, sample, {
      ...extractionOptions(config, services, input, probeKeyParts(layers, runner.gridWidths.length > 0, base.sha256, input.preprocessing)),
      progressLabel: 'probe features',
    });
    const similarity = measureSimilarity({
      features: extracted.features,
      sampleLabels: sample.map((r) => dataset.labels.indexOf(r.label)),
      numClasses: dataset.labels.length,
      layers,
      widths: runner.widths,
      gridWidths: runner.gridWidths,
      margin: config.policy.similarityMargin,
      metric: config.policy.similarityMetric,
      logger,
      comparePooling: !readoutsCrossValidated(config, dataset),
    });
    return { similarity };
  };
}
