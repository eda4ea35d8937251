import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DataError } from '../errors';

export interface ModelFiles {
  modelJson: tf.io.ModelJSON;
  weightData: ArrayBuffer;
  weightSpecs: tf.io.WeightsManifestEntry[];
  sha256: string;
}

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
}

/** Reads model.json and its weight shards from a folder (tfjs' file:// handler needs tfjs-node). */
export function readModelFiles(dir: string): ModelFiles {
  const jsonPath = path.join(dir, 'model.json');
  if (!fs.existsSync(jsonPath)) throw new DataError(`No model.json in ${dir}. Expected a TensorFlow.js model folder (model.json + *.bin).`);
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  } catch (error) {
    throw new DataError(`${jsonPath} is not valid JSON: ${(error as Error).message}.`);
  }
  if (!modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new DataError(`${jsonPath} is not a TensorFlow.js model: expected "modelTopology" and "weightsManifest".`);
  }
  const hash = createHash('sha256').update(JSON.stringify(modelJson.modelTopology));
  const shards: Buffer[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const shard of group.paths) {
      const shardPath = path.join(dir, shard);
      if (!fs.existsSync(shardPath)) throw new DataError(`${jsonPath} lists weight file ${shard}, which is missing from ${dir}.`);
      const bytes = fs.readFileSync(shardPath);
      hash.update(bytes);
      shards.push(bytes);
    }
  }
  const weightSpecs = modelJson.weightsManifest.flatMap((group) => group.weights);
  return { modelJson, weightSpecs, weightData: toArrayBuffer(Buffer.concat(shards)), sha256: hash.digest('hex') };
}

export function ioHandlerFor(files: ModelFiles): tf.io.IOHandler {
  return tf.io.fromMemory({
    modelTopology: files.modelJson.modelTopology,
    weightSpecs: files.weightSpecs,
    weightData: files.weightData,
    format: files.modelJson.format,
    generatedBy: files.modelJson.generatedBy,
    convertedBy: files.modelJson.convertedBy,
  });
}

export async function loadLayersModelFromDir(dir: string): Promise<{ model: tf.LayersModel; sha256: string }> {
  const files = readModelFiles(dir);
  try {
    return { model: await tf.loadLayersModel(ioHandlerFor(files)), sha256: files.sha256 };
  } catch (error) {
    throw new DataError(`${dir}/model.json could not be loaded as a tfjs LayersModel: ${(error as Error).message}`);
  }
}

/** Writes model.json and one weight shard into dir (which must exist). */
export async function saveModelToDir(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightFile = 'group1-shard1of1.bin';
      const weightData = artifacts.weightData as ArrayBuffer;
      fs.writeFileSync(path.join(dir, weightFile), Buffer.from(weightData));
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: [weightFile], weights: artifacts.weightSpecs ?? [] }],
      };
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weightData.byteLength } };
    }),
  );
}
