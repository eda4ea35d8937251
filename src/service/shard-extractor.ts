import type * as tf from '@tensorflow/tfjs';
import { chooseBackend } from '../backend/choose-backend';
import type { ConfigSources } from '../config/load-config';
import type { FinetuneConfig } from '../config/schema';
import { createContainer } from '../container/container';
import { DataError } from '../errors';
import { extractFeatures } from '../features/extract-features';
import { FeatureCache } from '../features/feature-cache';
import { createFrozenRunner, type FrozenRunner } from '../features/frozen-runner';
import type { Logger } from '../logger';
import type { BaseModel } from '../models/base-model';
import { BaseModelLoader } from '../models/base-model-loader';
import { AugmentingDecoder } from '../preprocess/augmenting-decoder';
import { ImageDecoder } from '../preprocess/image-decoder';
import { resolveJobConfig } from './job-config';
import type { FrozenCut, ShardSpec } from './shard-plan';

export interface ShardResult {
  computed: number;
  fromCache: number;
  seconds: number;
}

/**
 * Runs extraction shards: the frozen part the parent planned, over the shard's images, into the shared
 * feature cache. The frozen part stays loaded between shards of the same cut (a shard is a few
 * seconds of work; loading the base costs about as much).
 */
export class ShardExtractor {
  private loaded?: { key: string; base: BaseModel; runner: FrozenRunner<tf.Tensor> };

  constructor(
    private readonly workerConfig: ConfigSources,
    private readonly logger: Logger,
  ) {}

  async run(spec: ShardSpec): Promise<ShardResult> {
    const started = Date.now();
    const config = resolveJobConfig(this.workerConfig, spec.parentId, spec.request).values;
    const container = createContainer(config, this.logger);
    await chooseBackend(config.backend);
    const decoder = container.get(ImageDecoder);
    if (decoder.describe(spec.frozen.decode) !== spec.frozen.keyParts.preprocessing) {
      throw new DataError(
        `This worker preprocesses images as ${decoder.describe(spec.frozen.decode)}, the job's planner as ${spec.frozen.keyParts.preprocessing}: their features would differ. Run the same finetune version on every worker.`,
      );
    }
    const runner = await this.runnerFor(config, spec.frozen, container.get(BaseModelLoader));
    let computed = 0;
    let fromCache = 0;
    for (const view of new Set(spec.items.map((item) => item.view))) {
      const viewDecoder = view === 0 ? decoder : new AugmentingDecoder(decoder, { ...config.augment, seed: config.train.seed }, view);
      const extracted = await extractFeatures(
        runner,
        spec.items.filter((item) => item.view === view),
        {
          decoder: viewDecoder,
          decode: spec.frozen.decode,
          concurrency: config.preprocess.concurrency,
          batchSize: config.train.batchSize,
          cache: container.get(FeatureCache),
          keyParts: view === 0 ? spec.frozen.keyParts : { ...spec.frozen.keyParts, preprocessing: viewDecoder.describe(spec.frozen.decode) },
          logger: this.logger,
          // Worker processes are the service's parallelism: a shard runs in this thread unless preprocess.extractWorkers asks for threads.
          workers: config.preprocess.extractWorkers || 1,
          progressLabel: `shard ${spec.index + 1}/${spec.shards}`,
        },
      );
      computed += extracted.computed;
      fromCache += extracted.fromCache;
    }
    return { computed, fromCache, seconds: (Date.now() - started) / 1000 };
  }

  private async runnerFor(config: FinetuneConfig, frozen: FrozenCut, loader: BaseModelLoader): Promise<FrozenRunner<tf.Tensor>> {
    const compiled = config.runtime.compiledForward;
    const key = JSON.stringify([config.base.id, frozen.cutLayer, frozen.pooled, frozen.pooling, frozen.decode.size, compiled]);
    if (this.loaded?.key === key) return this.loaded.runner;
    this.dispose();
    const base = await loader.load(config.base.id);
    if (base.sha256 !== frozen.keyParts.baseSha256) {
      base.dispose();
      throw new DataError(`This worker's base model ${config.base.id} has weights ${base.sha256.slice(0, 12)}, the job's planner used ${frozen.keyParts.baseSha256.slice(0, 12)}. Give every worker the same base model files.`);
    }
    const runner = frozen.pooled
      ? createFrozenRunner(base, frozen.cutLayer, frozen.decode.size, { pooling: frozen.pooling, compiled })
      : createFrozenRunner(base, frozen.cutLayer, frozen.decode.size, { pool: false, compiled });
    this.loaded = { key, base, runner };
    return runner;
  }

  dispose(): void {
    this.loaded?.runner.dispose();
    this.loaded?.base.dispose();
    this.loaded = undefined;
  }
}
