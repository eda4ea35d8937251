import * as tf from '@tensorflow/tfjs';
import { inject, injectable } from 'inversify';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { FinetuneConfig } from '../config/schema';
import type { ImageRecord } from '../data/dataset';
import { RuntimeFailure } from '../errors';
import { exportableClassifier, type ExportableClassifier } from '../export/exportable-classifier';
import type { ExportQuantization } from '../export/export-metadata';
import { loadExport } from '../export/load-export';
import { writeExport } from '../export/write-export';
import { Logger } from '../logger';
import { packageRoot } from '../package-root';
import { quantizeExport } from '../pipeline/quantize-export';
import type { Stage } from '../pipeline/stage';
import { ImageDecoder, type DecodeOptions } from '../preprocess/image-decoder';
import { exportedInput } from '../preprocess/input-contract';
import type { BaseOutput } from './base-stage';
import type { ExtractOutput } from './extract-stage';
import type { FitOutput } from './fit-stage';
import type { GateOutput } from './gate-stage';
import type { PlanOutput } from './plan-stage';
import type { RunFolderInput, RunFolderOutput } from './run-folder-stage';
import type { ScanOutput } from './scan-stage';

export type ExportInput = BaseOutput &
  Pick<ScanOutput, 'dataset'> &
  Pick<PlanOutput, 'plan'> &
  Pick<ExtractOutput, 'frozen'> &
  FitOutput &
  Pick<GateOutput, 'metrics' | 'accuracyGate'> &
  Pick<RunFolderOutput, 'name'> &
  Pick<RunFolderInput, 'resolvedConfig'>;

export interface ExportOutput {
  exported: { dir: string; version: number };
  /** Present when export.quantize is float16 or uint8: weight sizes and the validation accuracy change. */
  quantization?: ExportQuantization;
}

/**
 * Largest difference between in-memory and reloaded predictions that counts as the same model.
 * Quantized weights move probabilities further (uint8 by up to ~0.3 on the sample): for them this
 * is a sanity check of the files, and the accuracy measured on the validation split is the gate.
 */
const reloadTolerance = { none: 1e-4, float16: 0.05, uint8: 0.5 } as const;
// A file that does not hold the model in memory (a weight misplaced, truncated or of the wrong type)
// changes the prediction of any image; two real images catch it, and each costs a forward pass of
// both models (8 took 1.2 s of a 10 s run).
const imagesToVerify = 2;

/** export: the versioned folder (atomically), quantized if asked, reloaded and checked against the model in memory. */
@injectable()
export class ExportStage implements Stage<ExportInput, ExportOutput> {
  readonly name = 'export';
  readonly timing = 'export_s';

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
    @inject(ImageDecoder) private readonly decoder: ImageDecoder,
  ) {}

  readonly run = async (context: ExportInput): Promise<ExportOutput> => {
    const { config, logger } = this;
    const { base, dataset, plan, metrics, accuracyGate, name, backend } = context;
    const modelInput = exportedInput(context.input);
    const { quantize } = config.export;
    const classifier = exportableClassifier(base, context.frozen, context.trained.head, plan);
    const verifyOn = [...dataset.val, ...dataset.train].slice(0, imagesToVerify);
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
          input: modelInput,
          images: scoredOn.map((r) => ({ path: r.path, label: dataset.labels.indexOf(r.label) })),
          float32Accuracy: metrics.val.accuracy,
          decoder: this.decoder,
          maxInputPixels: config.preprocess.maxInputPixels,
          concurrency: config.preprocess.concurrency,
          batchSize: config.train.batchSize,
        });
        logger.info(
          `quantized to ${quantize}: weights ${quantization.bytes.float32} -> ${quantization.bytes.quantized} bytes, validation accuracy ${quantization.accuracy.float32.toFixed(3)} -> ${quantization.accuracy.quantized.toFixed(3)}`,
        );
        accuracyGate.require(quantization.accuracy.quantized, `${quantize}-quantized`);
        return { quantization };
      },
      metadata: {
        formatVersion: 1,
        format: classifier.format,
        name,
        labels: dataset.labels,
        input: modelInput,
        base: { id: base.id, source: base.source, sha256: base.sha256, inputRange: base.inputRange, ...(base.twinOf ? { hubPath: base.twinOf.hubPath, twin: base.twinOf.note } : {}) },
        plan,
        metrics,
        training: { phases: context.trained.phases },
        backend: { name: backend.name, reason: backend.reason },
        config: context.resolvedConfig ?? config,
        versions: await versions(),
        createdAt: new Date().toISOString(),
      },
      verify: (dir) => this.verifyReload(classifier, dir, verifyOn, context.input, reloadTolerance[quantize]),
    });
    logger.info(`exported ${exported.dir}`);
    return { exported: { dir: exported.dir, version: exported.version }, ...(quantization ? { quantization } : {}) };
  };

  /** The written files must reproduce the in-memory model's predictions on real images. */
  private async verifyReload(model: ExportableClassifier, dir: string, records: ImageRecord[], decode: DecodeOptions, tolerance: number) {
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
