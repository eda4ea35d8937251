import { injectable } from 'inversify';
import fs from 'node:fs';
import path from 'node:path';
import { DataError } from '../errors';
import type { BaseModel, BaseModelSource } from './base-model';
import { releaseWeights } from './release-weights';
import { loadLayersModelFromDir } from './model-files';
import { lastFeatureMapLayer, resolutionStageEnds } from './network-surgery';

/** Optional file beside model.json that states the input contract of a local base. */
interface BaseContractFile {
  inputRange?: [number, number];
}

/**
 * Any tfjs LayersModel folder given as a path. Its input range is read from a finetune
 * export's metadata.json or a finetune-base.json beside model.json; otherwise [-1, 1],
 * the Keras MobileNet convention.
 */
@injectable()
export class LocalLayersSource implements BaseModelSource {
  accepts(id: string): boolean {
    return id.includes('/') || id.includes(path.sep) || id.startsWith('.') || fs.existsSync(path.join(id, 'model.json'));
  }

  async load(id: string): Promise<BaseModel> {
    const dir = path.resolve(id);
    if (!fs.existsSync(dir)) throw new DataError(`Base model folder ${dir} does not exist. Expected a folder with model.json.`);
    const { model, sha256 } = await loadLayersModelFromDir(dir);
    const shape = model.inputs[0]?.shape ?? [];
    const [height, width, channels] = shape.slice(1);
    if (shape.length !== 4 || channels !== 3 || !height || height !== width) {
      model.dispose();
      throw new DataError(`Base model in ${dir} takes input of shape [${shape.join(', ')}]. Expected [null, size, size, 3].`);
    }
    return {
      id,
      source: dir,
      sha256,
      inputSize: height,
      inputRange: this.inputRange(dir),
      network: { kind: 'layers', model },
      lastFeatureLayer: lastFeatureMapLayer(model),
      candidateLayers: resolutionStageEnds(model),
      dispose: () => releaseWeights(model),
    };
  }

  private inputRange(dir: string): [number, number] {
    for (const name of ['finetune-base.json', 'metadata.json']) {
      const file = path.join(dir, name);
      if (!fs.existsSync(file)) continue;
      const content = JSON.parse(fs.readFileSync(file, 'utf8'));
      const range = (content as BaseContractFile).inputRange ?? content?.input?.range;
      if (Array.isArray(range) && range.length === 2) return [Number(range[0]), Number(range[1])];
    }
    return [-1, 1];
  }
}
