import * as tf from '@tensorflow/tfjs';
import { inject, injectable } from 'inversify';
import os from 'node:os';
import { FinetuneConfig } from '../config/schema';
import { extractFeatures } from '../features/extract-features';
import { FeatureCache } from '../features/feature-cache';
import { createFrozenRunner } from '../features/frozen-runner';
import { Logger } from '../logger';
import { RunPreparation } from '../pipeline/prepare-run';
import { headFitOptions } from '../pipeline/train-classifier';
import { ImageDecoder } from '../preprocess/image-decoder';
import { buildConfiguredHead } from '../train/head';
import { featureStatistics, standardize } from '../train/standardize';
import type { CheckResult, CheckStatus } from './check-result';
import type { DoctorInputs } from './doctor-inputs';
import { fingerprintImages } from './image-fingerprint';
import { countStatuses, runDoctorChecks } from './run-checks';
import { shortRun, shortRunEpochs, type ShortRun } from './short-run';

export interface DoctorReport {
  checks: CheckResult[];
  summary: Record<CheckStatus, number>;
  backend: { name: string; reason: string };
  /** Layer whose pooled output the head reads, and the features it took from the cache. */
  features: { layer: string; computed: number; fromCache: number };
  timings: Record<string, number>;
}

export interface PreparedDoctorInputs {
  inputs: DoctorInputs;
  backend: DoctorReport['backend'];
  features: DoctorReport['features'];
  timings: Record<string, number>;
  dispose(): void;
}

const seconds = (since: number) => (Date.now() - since) / 1000;

/** `doctor`: the same preparation and frozen features as `train` (shared cache), then the tuning guide's checks. */
@injectable()
export class DoctorPipeline {
  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
    @inject(ImageDecoder) private readonly decoder: ImageDecoder,
    @inject(FeatureCache) private readonly cache: FeatureCache,
    @inject(RunPreparation) private readonly preparation: RunPreparation,
  ) {}

  async run(dataDir: string): Promise<DoctorReport> {
    const totalStarted = Date.now();
    const prepared = await this.prepareInputs(dataDir);
    try {
      const started = Date.now();
      const checks = await runDoctorChecks(prepared.inputs, this.logger);
      const timings = { ...prepared.timings, checks_s: seconds(started), total_s: seconds(totalStarted) };
      return { checks, summary: countStatuses(checks), backend: prepared.backend, features: prepared.features, timings };
    } finally {
      prepared.dispose();
    }
  }

  /** Everything the checks read, prepared as `train` prepares it; dispose() releases the tensors and the base. */
  async prepareInputs(dataDir: string): Promise<PreparedDoctorInputs> {
    const { config, logger } = this;
    const prepared = await this.preparation.prepare(dataDir);
    const { base, dataset, plan, decode, backend } = prepared;
    const timings = { ...prepared.timings };
    // The head's input: pooled features at the cut, or (when the plan fine-tunes) at the top of the
    // fine-tuned blocks, which is what the head phase of fine-tuning reads before the blocks change;
    // the same pooling too, so that doctor and train share cached features.
    const layer = plan.fineTune ? plan.fineTune.until : plan.cutLayer;
    const keyParts = plan.fineTune ? { ...prepared.keyParts, cutLayer: layer } : prepared.keyParts;
    const runner = createFrozenRunner(base, layer, decode.size, { pooling: plan.fineTune ? 'average' : plan.pooling, compiled: config.runtime.compiledForward });
    const tensors: tf.Tensor[] = [];
    const dispose = () => {
      tf.dispose(tensors);
      runner.dispose();
      base.dispose();
    };
    try {
      let started = Date.now();
      const fingerprints = await fingerprintImages([...dataset.train, ...dataset.val, ...dataset.test], config.preprocess.concurrency);
      timings.fingerprint_s = seconds(started);

      started = Date.now();
      const extracted = await extractFeatures(runner, [...dataset.train, ...dataset.val], {
        decoder: this.decoder,
        decode,
        concurrency: config.preprocess.concurrency,
        batchSize: config.train.batchSize,
        cache: this.cache,
        keyParts,
        logger,
        workers: config.preprocess.extractWorkers || Math.min(os.availableParallelism(), 4),
      });
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
      timings.extract_s = seconds(started);
      logger.info(`features at ${layer}: ${extracted.computed} computed, ${extracted.fromCache} from cache (${timings.extract_s.toFixed(1)} s)`);

      const stats = featureStatistics(rawTrain);
      tensors.push(stats.mean, stats.std);
      const labelsOf = (part: typeof dataset.train) => part.map((r) => dataset.labels.indexOf(r.label));
      const train = { x: standardize(rawTrain, stats), labels: labelsOf(dataset.train) };
      tensors.push(train.x);
      const val = rawVal ? { x: standardize(rawVal, stats), labels: labelsOf(dataset.val) } : undefined;
      if (val) tensors.push(val.x);

      const numClasses = dataset.labels.length;
      let run: Promise<ShortRun> | undefined;
      const inputs: DoctorInputs = {
        dataset,
        numClasses,
        inputSize: decode.size,
        fingerprints,
        rawTrain,
        train,
        val,
        config,
        newHead: (options) => buildConfiguredHead(config.train, width, numClasses, options),
        shortRun: () =>
          (run ??= (async () => {
            const head = inputs.newHead();
            try {
              return await shortRun({
                head,
                train,
                val,
                numClasses,
                options: headFitOptions(config, logger, Math.min(shortRunEpochs, config.train.epochs)),
              });
            } finally {
              head.dispose();
            }
          })()),
      };
      return {
        inputs,
        backend: { name: backend.name, reason: backend.reason },
        features: { layer, computed: extracted.computed, fromCache: extracted.fromCache },
        timings,
        dispose,
      };
    } catch (error) {
      dispose();
      throw error;
    }
  }
}
