import * as tf from '@tensorflow/tfjs';
import { inject, injectable } from 'inversify';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { FinetuneConfig } from '../config/schema';
import type { ImageRecord } from '../data/dataset';
import { RuntimeFailure, TrainingInterrupted } from '../errors';
import { exportableClassifier, type ExportableClassifier } from '../export/exportable-classifier';
import type { ExportMetadata, ExportQuantization } from '../export/export-metadata';
import { loadExport } from '../export/load-export';
import { writeExport } from '../export/write-export';
import { FeatureCache } from '../features/feature-cache';
import { createFrozenRunner } from '../features/frozen-runner';
import { Logger } from '../logger';
import { releaseWeights } from '../models/release-weights';
import { packageRoot } from '../package-root';
import type { Plan } from '../policy/plan';
import { Progress } from '../progress';
import { buildReportData } from '../report/report-data';
import { writeReport } from '../report/write-report';
import { appendEpochRecord, createRunDirectory, openRunDirectory, writeRunConfig, writeRunInfo, type RunDirectory } from '../runs/run-directory';
import { ImageDecoder } from '../preprocess/image-decoder';
import type { LabelledData } from '../train/fit';
import { LambdaCallback } from '../train/lambda-callback';
import { extractDatasetFeatures } from './extract-dataset-features';
import { RunPreparation } from './prepare-run';
import { trainClassifier, type TrainedClassifier, type TrainingPhase } from './train-classifier';
import { quantizeExport } from './quantize-export';

export interface TrainResult {
  exportDir: string;
  runId: string;
  /** models/runs/<run-id>/: the run's config and metrics.jsonl. */
  runDir: string;
  /** The run's report.html (absent only when it could not be written; a warning says why). */
  reportPath?: string;
  version: number;
  backend: { name: string; reason: string };
  plan: Plan;
  labels: string[];
  metrics: ExportMetadata['metrics'];
  /** Present when export.quantize is float16 or uint8: weight sizes and the validation accuracy change. */
  quantization?: ExportQuantization;
  skipped: { path: string; reason: string }[];
  /** Frozen-part outputs computed in this run, those read from the cache, and the examples training saw per epoch (images and their augmented views). */
  features: { computed: number; fromCache: number; trainingExamples: number };
  timings: Record<string, number>;
  /** What training warned about and the non-finite steps it recovered from, per phase; resumed: continued from checkpoints. */
  training: {
    resumed: boolean;
    warnings: (TrainingPhase['warnings'][number] & { phase: TrainingPhase['name'] })[];
    recoveries: (TrainingPhase['recoveries'][number] & { phase: TrainingPhase['name'] })[];
  };
}

export interface TrainRunOptions {
  /** Continue this run (id under runs.dir, or its folder) from its checkpoints instead of starting a new one. */
  resume?: string;
  /** Aborting (Ctrl-C) stops training at the next step; the run can then be resumed. */
  signal?: AbortSignal;
}

const seconds = (since: number) => (Date.now() - since) / 1000;
/**
 * Largest difference between in-memory and reloaded predictions that counts as the same model.
 * Quantized weights move probabilities further (uint8 by up to ~0.3 on the sample): for them this
 * is a sanity check of the files, and the accuracy measured on the validation split is the gate.
 */
const reloadTolerance = { none: 1e-4, float16: 0.05, uint8: 0.5 } as const;
const imagesToVerify = 8;

/** The whole `train` job: prepare, extract frozen features once, train the head, export. */
@injectable()
export class TrainPipeline {
  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
    @inject(ImageDecoder) private readonly decoder: ImageDecoder,
    @inject(FeatureCache) private readonly cache: FeatureCache,
    @inject(RunPreparation) private readonly preparation: RunPreparation,
    @inject(Progress) private readonly progress: Progress,
  ) {}

  async run(dataDir: string, resolvedConfig?: unknown, options: TrainRunOptions = {}): Promise<TrainResult> {
    const { config, logger } = this;
    const totalStarted = Date.now();
    const name = config.export.name || path.basename(path.resolve(dataDir));
    let run: RunDirectory;
    if (options.resume) {
      run = openRunDirectory(config.runs.dir, options.resume);
      logger.info(`resuming run ${run.id}: ${run.dir}`);
    } else {
      run = createRunDirectory(config.runs.dir, name);
      writeRunConfig(run, resolvedConfig ?? config);
      writeRunInfo(run, { dataDir: path.resolve(dataDir), startedAt: new Date().toISOString() });
      logger.info(`run ${run.id}: ${run.dir}`);
    }
    const resumeHint = `Resume with: finetune train --resume ${run.id}${path.resolve(config.runs.dir) === path.resolve('models/runs') ? '' : ` --runs-dir ${config.runs.dir}`}`;
    const prepared = await this.preparation.prepare(dataDir);
    const { base, dataset, plan, decode, keyParts, backend } = prepared;
    const timings = { ...prepared.timings };
    logger.info(`plan: ${plan.policy}, ${plan.fineTune ? `fine-tune from ${plan.cutLayer} to ${plan.fineTune.until}` : `head on ${plan.cutLayer}`}`);
    const runner = plan.fineTune
      ? createFrozenRunner(base, plan.cutLayer, decode.size, { pool: false, compiled: config.runtime.compiledForward })
      : createFrozenRunner(base, plan.cutLayer, decode.size, { pooling: plan.pooling, compiled: config.runtime.compiledForward });
    let trained: TrainedClassifier | undefined;
    const tensors: tf.Tensor[] = [];
    try {
      let started = Date.now();
      const { train, val, test, computed, fromCache, tensors: featureTensors } = await extractDatasetFeatures(runner, dataset, {
        decoder: this.decoder,
        decode,
        concurrency: config.preprocess.concurrency,
        batchSize: config.train.batchSize,
        cache: this.cache,
        keyParts,
        logger,
        progress: this.progress,
        workers: config.preprocess.extractWorkers || Math.min(os.availableParallelism(), 4),
        augment: { ...config.augment, seed: config.train.seed },
      });
      tensors.push(...featureTensors);
      const pruned = this.cache.prune();
      if (pruned.removed > 0) logger.info(`feature cache: removed ${pruned.removed} least recently used entries (now ${(pruned.bytes / 2 ** 20).toFixed(0)} MiB)`);
      timings.extract_s = seconds(started);
      timings.extract_img_per_s = computed / Math.max(timings.extract_s, 1e-9);
      logger.info(`features: ${computed} computed, ${fromCache} from cache (${timings.extract_s.toFixed(1)} s)`);

      started = Date.now();
      const numClasses = dataset.labels.length;
      if (options.signal?.aborted) throw new TrainingInterrupted(`Interrupted before training started. ${resumeHint}`);
      try {
        trained = await trainClassifier({
          plan,
          baseModel: base.network.kind === 'layers' ? base.network.model : undefined,
          train,
          val,
          numClasses,
          config,
          logger,
          progress: this.progress,
          callbacks: (phase) => [new LambdaCallback({ onEpoch: (log) => appendEpochRecord(run, { phase, ...log }) })],
          checkpointDir: run.checkpointDir,
          resume: Boolean(options.resume),
          signal: options.signal,
        });
      } catch (error) {
        if (error instanceof TrainingInterrupted) throw new TrainingInterrupted(`${error.message} ${resumeHint}`);
        throw error;
      }
      timings.train_s = seconds(started);
      timings.train_img_per_s = trained.phases.at(-1)!.imagesPerSecond;

      const scorer = trained;
      const score = (data: LabelledData | undefined) => (data ? { ...scorer.score(data), n: data.labels.length } : undefined);
      const valScore = score(val) ?? { ...trained.score(train), n: 0 };
      const testScore = score(test);
      const metrics: ExportMetadata['metrics'] = { val: valScore, ...(testScore ? { test: testScore } : {}) };
      logger.info(`validation accuracy ${valScore.accuracy.toFixed(3)}`);
      const validationProbabilities = val ? await trained.probabilities(val.x) : undefined;
      const { quantize, minAccuracy } = config.export;
      const refuseBelowGate = (accuracy: number, what: string) => {
        if (accuracy >= minAccuracy) return;
        throw new RuntimeFailure(
          `The ${what} validation accuracy is ${accuracy.toFixed(3)} (on ${valScore.n || dataset.train.length} images), below export.minAccuracy ${minAccuracy}; nothing was exported. ` +
            'Add or clean data, train longer, choose another policy, or lower --min-accuracy.',
        );
      };
      refuseBelowGate(valScore.accuracy, 'model');

      started = Date.now();
      const classifier = exportableClassifier(base, runner, trained.head, plan);
      const verifyOn = [...dataset.val, ...dataset.train].slice(0, imagesToVerify);
      const input: ExportMetadata['input'] = {
        height: decode.size,
        width: decode.size,
        channels: 3,
        range: [0, 255],
        resize: { fit: decode.fit, kernel: 'lanczos3', decoder: keyParts.preprocessing },
      };
      let quantization: ExportQuantization | undefined;
      const scoredOn = dataset.val.length > 0 ? dataset.val : dataset.train;
      const exported = await writeExport({
        outDir: config.export.out,
        name,
        writeModel: async (dir) => {
          await classifier.writeModel(dir);
          if (quantize === 'none') return;
          quantization = await quantizeExport(dir, {
            dtype: quantize,
            input,
            images: scoredOn.map((r) => ({ path: r.path, label: dataset.labels.indexOf(r.label) })),
            float32Accuracy: valScore.accuracy,
            decoder: this.decoder,
            maxInputPixels: config.preprocess.maxInputPixels,
            concurrency: config.preprocess.concurrency,
            batchSize: config.train.batchSize,
          });
          logger.info(
            `quantized to ${quantize}: weights ${quantization.bytes.float32} -> ${quantization.bytes.quantized} bytes, validation accuracy ${quantization.accuracy.float32.toFixed(3)} -> ${quantization.accuracy.quantized.toFixed(3)}`,
          );
          refuseBelowGate(quantization.accuracy.quantized, `${quantize}-quantized`);
          return { quantization };
        },
        metadata: {
          formatVersion: 1,
          format: classifier.format,
          name,
          labels: dataset.labels,
          input,
          base: { id: base.id, source: base.source, sha256: base.sha256, inputRange: base.inputRange },
          plan,
          metrics,
          training: { phases: trained.phases },
          backend: { name: backend.name, reason: backend.reason },
          config: resolvedConfig ?? config,
          versions: await versions(),
          createdAt: new Date().toISOString(),
        },
        verify: (dir) => this.verifyReload(classifier, dir, verifyOn, decode, reloadTolerance[quantize]),
      });
      timings.export_s = seconds(started);
      timings.total_s = seconds(totalStarted);
      logger.info(`exported ${exported.dir}`);
      started = Date.now();
      const reportPath = await this.writeReport(run, {
        name,
        status: 'succeeded',
        dataset,
        plan,
        backend,
        exportDir: exported.dir,
        metrics,
        phases: trained.phases,
        validationProbabilities,
        timings,
      });
      timings.report_s = seconds(started);
      return {
        exportDir: exported.dir,
        runId: run.id,
        runDir: run.dir,
        ...(reportPath ? { reportPath } : {}),
        version: exported.version,
        backend: { name: backend.name, reason: backend.reason },
        plan,
        labels: dataset.labels,
        metrics,
        ...(quantization ? { quantization } : {}),
        skipped: dataset.skipped,
        features: { computed, fromCache, trainingExamples: train.labels.length },
        timings,
        training: {
          resumed: Boolean(options.resume),
          warnings: trained.phases.flatMap((phase) => phase.warnings.map((warning) => ({ phase: phase.name, ...warning }))),
          recoveries: trained.phases.flatMap((phase) => phase.recoveries.map((recovery) => ({ phase: phase.name, ...recovery }))),
        },
      };
    } catch (error) {
      await this.writeReport(run, { name, status: 'failed', error: (error as Error).message, dataset, plan, backend, timings });
      throw error;
    } finally {
      tensors.forEach((t) => t.dispose());
      if (trained) releaseWeights(trained.head);
      base.dispose();
      runner.dispose();
    }
  }

  /** report.html and report-data.json in the run folder; a report that cannot be written only warns, it never fails the run. */
  private async writeReport(run: RunDirectory, inputs: Omit<Parameters<typeof buildReportData>[0], 'run'>): Promise<string | undefined> {
    try {
      const reportPath = await writeReport(run, await buildReportData({ run, ...inputs }));
      this.logger.info(`report ${reportPath}`);
      return reportPath;
    } catch (error) {
      this.logger.warn(`could not write the run's report in ${run.dir}: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** The written files must reproduce the in-memory model's predictions on real images. */
  private async verifyReload(
    model: ExportableClassifier,
    dir: string,
    records: ImageRecord[],
    decode: { size: number; fit: 'cover' | 'contain'; maxInputPixels: number },
    tolerance: number = reloadTolerance.none,
  ) {
    const reloaded = await loadExport(dir, { compiled: this.config.runtime.compiledForward });
    try {
      const pixels = await Promise.all(records.map(async (r) => (await this.decoder.decode(await fs.readFile(r.path), decode)).data));
      const flat = new Float32Array(pixels.length * decode.size * decode.size * 3);
      pixels.forEach((p, i) => flat.set(p, i * decode.size * decode.size * 3));
      const difference = tf.tidy(() => {
        const input = tf.tensor4d(flat, [pixels.length, decode.size, decode.size, 3]);
        const expected = model.predict(input);
        const actual = reloaded.predict(input);
        return tf.max(tf.abs(tf.sub(expected, actual))).dataSync()[0];
      });
      if (!(difference <= tolerance)) {
        throw new RuntimeFailure(`The export reloaded from disk predicts differently (max difference ${difference}, tolerance ${tolerance}); nothing was exported.`);
      }
    } finally {
      reloaded.dispose();
    }
  }
}

async function versions(): Promise<Record<string, string>> {
  const read = async (file: string) => JSON.parse(await fs.readFile(file, 'utf8')).version as string;
  return {
    finetune: await read(path.join(packageRoot, 'package.json')),
    tfjs: tf.version.tfjs,
    sharp: sharp.versions.sharp ?? 'unknown',
    node: process.version,
  };
}
