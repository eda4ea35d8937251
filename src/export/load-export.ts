import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { DataError } from '../errors';
import { layersForward } from '../features/frozen-forward';
import { ioHandlerFor, readModelFiles } from '../models/model-files';
import type { ExportMetadata } from './export-metadata';
import { versionFolders } from './write-export';

export interface LoadedExport {
  dir: string;
  /** A LayersModel, or a GraphModel for exports composed on a GraphModel base. */
  model: tf.LayersModel | tf.GraphModel;
  metadata: ExportMetadata;
  labels: string[];
  /** Raw RGB [0, 255] images in, probabilities out. */
  predict(pixels: tf.Tensor4D): tf.Tensor2D;
  dispose(): void;
}

/** An export folder, or a model base folder (<out>/<name>) whose newest version is taken. */
export function resolveExportDir(dir: string): string {
  if (!fs.existsSync(dir)) throw new DataError(`Model folder ${dir} does not exist. Expected an export folder <out>/<name>/<version>/.`);
  if (fs.existsSync(path.join(dir, 'metadata.json'))) return dir;
  const newest = [...versionFolders(dir).values()].at(-1);
  if (newest === undefined) {
    throw new DataError(`${dir} holds no metadata.json and no numbered versions. Expected an export folder <out>/<name>/<version>/ written by finetune train.`);
  }
  return path.join(dir, newest);
}

/** The model.json of an export folder (LayersModel or GraphModel), without its metadata. */
export async function loadExportModel(dir: string): Promise<tf.LayersModel | tf.GraphModel> {
  const files = readModelFiles(dir);
  try {
    return files.modelJson.format === 'graph-model'
      ? await tf.loadGraphModel(ioHandlerFor(files))
      : await tf.loadLayersModel(ioHandlerFor(files));
  } catch (error) {
    throw new DataError(`${dir}/model.json could not be loaded: ${(error as Error).message}. Export it again.`);
  }
}

export interface LoadExportOptions {
  /**
   * Run a LayersModel export compiled (compile-layers-model.ts: batch norm folded, fused
   * convolutions; the default) rather than through predict. The files stay standard Keras layers.
   */
  compiled?: boolean;
}

export async function loadExport(dirOrBase: string, options: LoadExportOptions = {}): Promise<LoadedExport> {
  const dir = resolveExportDir(dirOrBase);
  let metadata: ExportMetadata;
  try {
    metadata = JSON.parse(fs.readFileSync(path.join(dir, 'metadata.json'), 'utf8'));
  } catch (error) {
    throw new DataError(`${dir}/metadata.json is unreadable: ${(error as Error).message}.`);
  }
  const labelsFile = path.join(dir, 'labels.txt');
  const labels = fs.existsSync(labelsFile) ? fs.readFileSync(labelsFile, 'utf8').split('\n').filter((l) => l.length > 0) : metadata.labels;
  const model = await loadExportModel(dir);
  const outputs = model.outputs[0]?.shape?.at(-1);
  if (outputs !== undefined && outputs !== -1 && outputs !== labels.length) {
    model.dispose();
    throw new DataError(`${dir}: the model has ${outputs} outputs but labels.txt lists ${labels.length} labels. The export is inconsistent; export it again.`);
  }
  if (model instanceof tf.GraphModel) {
    return { dir, model, metadata, labels, predict: (pixels) => model.predict(pixels) as tf.Tensor2D, dispose: () => model.dispose() };
  }
  const forward = layersForward(model, options.compiled ?? true);
  const dispose = () => {
    forward.dispose();
    model.dispose();
  };
  return { dir, model, metadata, labels, predict: (pixels) => forward.run(pixels) as tf.Tensor2D, dispose };
}
