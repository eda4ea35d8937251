import { inject, injectable } from 'inversify';
import path from 'node:path';
import { chooseBackend, type BackendChoice } from '../backend/choose-backend';
import { FinetuneConfig } from '../config/schema';
import { countByLabel, type Dataset } from '../data/dataset';
import { loadDataset } from '../data/load-dataset';
import { DataError } from '../errors';
import { featureKey } from '../features/disk-feature-cache';
import { FeatureCache } from '../features/feature-cache';
import { Logger } from '../logger';
import type { BaseModel } from '../models/base-model';
import { BaseModelLoader } from '../models/base-model-loader';
import type { Pooling } from '../models/grid-pooling';
import { requireLayer } from '../models/network-surgery';
import { Progress } from '../progress';
import { measureSimilarity, probeKeyLayer } from '../policy/measure-similarity';
import { chooseFreezeBoundary, makePlan, type Plan } from '../policy/plan';
import type { Similarity } from '../policy/similarity';
import { ImageDecoder, type DecodeOptions } from '../preprocess/image-decoder';

export interface PreparedRun {
  backend: BackendChoice;
  base: BaseModel;
  dataset: Dataset;
  plan: Plan;
  decode: DecodeOptions;
  /** What besides image bytes determines cached features. */
  keyParts: { baseSha256: string; cutLayer: string; preprocessing: string };
  timings: Record<string, number>;
}

/** Fine-tuning caches the activation map at the boundary; a head alone needs only its pooled vector. */
function keyPartsFor(boundary: { cutLayer: string; fineTune?: unknown; pooling: Pooling }, baseSha256: string, preprocessing: string) {
  const features = boundary.fineTune ? '@activation' : boundary.pooling === 'grid' ? '@grid' : '';
  return { baseSha256, cutLayer: `${boundary.cutLayer}${features}`, preprocessing };
}

export function headLayerNames(hiddenUnits: number): string[] {
  return hiddenUnits > 0 ? ['head_hidden', 'head_probabilities'] : ['head_probabilities'];
}

const seconds = (since: number) => (Date.now() - since) / 1000;

/** The steps `plan` and `train` share: backend, base model, data check and split, plan. */
@injectable()
export class RunPreparation {
  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
    @inject(ImageDecoder) private readonly decoder: ImageDecoder,
    @inject(BaseModelLoader) private readonly baseLoader: BaseModelLoader,
    @inject(FeatureCache) private readonly cache: FeatureCache,
    @inject(Progress) private readonly progress: Progress,
  ) {}

  async prepare(dataDir: string): Promise<PreparedRun> {
    const { config, logger } = this;
    const timings: Record<string, number> = {};
    let started = Date.now();
    const backend = await chooseBackend(config.backend);
    logger.info(`backend: ${backend.name} (${backend.reason})`);

    const base = await this.baseLoader.load(config.base.id);
    timings.base_s = seconds(started);
    try {
      const imageSize = config.preprocess.imageSize || base.inputSize;
      if (base.network.kind === 'graph' && imageSize !== base.inputSize) {
        throw new DataError(`Received preprocess.imageSize=${imageSize}. The GraphModel base ${base.id} takes only ${base.inputSize}; use --image-size ${base.inputSize} or 0.`);
      }
      const decode: DecodeOptions = { size: imageSize, fit: config.preprocess.fit, maxInputPixels: config.preprocess.maxInputPixels };
      const preprocessing = this.decoder.describe(decode);

      // The cut layer depends only on the policy and the base, so cached features can vouch for files before the data are read.
      const boundaryInputs = {
        base,
        requestedPolicy: config.policy.name,
        cutLayer: config.policy.cutLayer,
        topBlocks: config.policy.topBlocks,
        deepBlocks: config.policy.deepBlocks,
        headLayers: headLayerNames(config.train.hiddenUnits),
        requestedPooling: config.policy.pooling,
        gridMinImagesPerClass: config.policy.gridMinImagesPerClass,
      };
      // Before the data are read, cached features (at the likely boundary or of the depth probe) vouch for files.
      const provisional = chooseFreezeBoundary(boundaryInputs);
      if (base.network.kind === 'layers') requireLayer(base.network.model, provisional.cutLayer);
      const candidateLayers = config.policy.candidateLayers.length > 0 ? config.policy.candidateLayers : base.candidateLayers;
      const vouching = [
        keyPartsFor(provisional, base.sha256, preprocessing),
        // Auto pooling also depends on the class sizes, not known yet.
        keyPartsFor({ ...provisional, pooling: 'average' }, base.sha256, preprocessing),
        ...[false, true].map((grid) => ({ baseSha256: base.sha256, cutLayer: probeKeyLayer(candidateLayers, grid), preprocessing })),
      ];

      started = Date.now();
      logger.info(`checking images in ${path.resolve(dataDir)}`);
      const dataset = await loadDataset(dataDir, this.decoder, {
        validationFraction: config.data.validationFraction,
        minImagesPerClass: config.data.minImagesPerClass,
        decode: { fit: decode.fit, maxInputPixels: decode.maxInputPixels, concurrency: config.preprocess.concurrency },
        knownGood: (sha256) => vouching.some((parts) => this.cache.has(featureKey({ imageSha256: sha256, ...parts }))),
        progress: this.progress,
      });
      timings.scan_s = seconds(started);
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
      let similarity: Similarity | undefined;
      if (config.policy.name === 'auto' && base.network.kind === 'layers') {
        started = Date.now();
        logger.info(`measuring similarity at ${candidateLayers.length} depths`);
        similarity = await measureSimilarity({
          base,
          train: dataset.train,
          labels: dataset.labels,
          layers: candidateLayers,
          maxImages: config.policy.probeImages,
          margin: config.policy.similarityMargin,
          metric: config.policy.similarityMetric,
          decoder: this.decoder,
          decode,
          preprocessing,
          cache: this.cache,
          concurrency: config.preprocess.concurrency,
          batchSize: config.train.batchSize,
          workers: config.preprocess.extractWorkers,
          compiled: config.runtime.compiledForward,
          logger,
          progress: this.progress,
        });
        timings.probe_s = seconds(started);
      }
      const plan = makePlan({
        ...boundaryInputs,
        similarity,
        perClass: countByLabel(dataset.train, dataset.labels),
        largeMinImages: config.policy.largeMinImages,
        largeMinImagesPerClass: config.policy.largeMinImagesPerClass,
      });
      return { backend, base, dataset, plan, decode, keyParts: keyPartsFor(plan, base.sha256, preprocessing), timings };
    } catch (error) {
      base.dispose();
      throw error;
    }
  }
}
