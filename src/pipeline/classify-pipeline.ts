import { inject, injectable } from 'inversify';
import { chooseBackend } from '../backend/choose-backend';
import { FinetuneConfig } from '../config/schema';
import { scanFolder } from '../data/scan-folder';
import { DataError } from '../errors';
import { classificationReport, type ClassificationReport } from '../evaluate/classification-metrics';
import { loadExport, type LoadedExport } from '../export/load-export';
import { Logger } from '../logger';
import { ImageDecoder } from '../preprocess/image-decoder';
import { argMax, classifyImages } from './classify-images';

export interface Prediction {
  file: string;
  predictions: { label: string; probability: number }[];
  error?: string;
}

export interface EvaluationResult extends ClassificationReport {
  model: string;
  skipped: { path: string; reason: string }[];
}

/** `predict` and `evaluate`: an export applied to files, with the training preprocessing. */
@injectable()
export class ClassifyPipeline {
  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
    @inject(ImageDecoder) private readonly decoder: ImageDecoder,
  ) {}

  private async withExport<T>(modelDir: string, work: (loaded: LoadedExport) => Promise<T>): Promise<T> {
    const backend = await chooseBackend(this.config.backend);
    this.logger.info(`backend: ${backend.name} (${backend.reason})`);
    const loaded = await loadExport(modelDir, { compiled: this.config.runtime.compiledForward });
    this.logger.info(`model ${loaded.dir}: ${loaded.labels.length} labels`);
    try {
      return await work(loaded);
    } finally {
      loaded.dispose();
    }
  }

  private classify(loaded: LoadedExport, files: string[]) {
    return classifyImages(loaded, files, this.decoder, {
      maxInputPixels: this.config.preprocess.maxInputPixels,
      concurrency: this.config.preprocess.concurrency,
      batchSize: this.config.train.batchSize,
    });
  }

  async predict(modelDir: string, files: string[], topK: number): Promise<Prediction[]> {
    return this.withExport(modelDir, async (loaded) => {
      const results = await this.classify(loaded, files);
      return results.map((result) => ({
        file: result.file,
        predictions: (result.probabilities ?? [])
          .map((probability, i) => ({ label: loaded.labels[i], probability }))
          .sort((a, b) => b.probability - a.probability)
          .slice(0, topK),
        ...(result.error ? { error: result.error } : {}),
      }));
    });
  }

  async evaluate(modelDir: string, dataDir: string): Promise<EvaluationResult> {
    return this.withExport(modelDir, async (loaded) => {
      const scanned = scanFolder(dataDir);
      const files = scanned.layout === 'split-folders' ? scanned.files.filter((f) => f.givenSplit === 'test' || f.givenSplit === 'val') : scanned.files;
      const unknown = [...new Set(files.map((f) => f.label).filter((label) => !loaded.labels.includes(label)))];
      if (unknown.length > 0) {
        throw new DataError(`Class folder${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} in ${dataDir} ${unknown.length > 1 ? 'are' : 'is'} not among the model's labels (${loaded.labels.join(', ')}).`);
      }
      const results = await this.classify(loaded, files.map((f) => f.path));
      const skipped = [...scanned.skipped];
      const truth: number[] = [];
      const predicted: number[] = [];
      results.forEach((result, i) => {
        if (!result.probabilities) {
          skipped.push({ path: result.file, reason: result.error ?? 'not classified' });
          return;
        }
        truth.push(loaded.labels.indexOf(files[i].label));
        predicted.push(argMax(result.probabilities));
      });
      for (const s of skipped) this.logger.warn(`skipped ${s.path}: ${s.reason}`);
      if (truth.length === 0) throw new DataError(`No image in ${dataDir} could be classified.`);
      return { model: loaded.dir, ...classificationReport(truth, predicted, loaded.labels), skipped };
    });
  }
}
