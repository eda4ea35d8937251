import * as tf from '@tensorflow/tfjs';
import { injectable } from 'inversify';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BaseModel, BaseModelSource } from './base-model';
import { releaseWeights } from './release-weights';

export const offlineBaseId = 'mobilenet_v2';

interface ModelModule {
  modelTopology: object;
  weightsManifest: tf.io.WeightsManifestConfig;
}

/** Folder of nsfwjs' MobileNetV2. It is not in the package's exports, so resolve from its entry point. */
function nsfwjsModelDir(): string {
  return path.resolve(path.dirname(require.resolve('nsfwjs')), '..', 'models', 'mobilenet_v2');
}

function nsfwjsVersion(modelDir: string): string {
  return JSON.parse(fs.readFileSync(path.resolve(modelDir, '..', '..', '..', 'package.json'), 'utf8')).version;
}

/**
 * The offline default: the Keras MobileNetV2 (alpha 1.0, 224x224, ImageNet weights up to
 * block_10) that nsfwjs@4 ships inside npm, as JS modules holding topology and base64 weights.
 */
@injectable()
export class NsfwjsMobileNetSource implements BaseModelSource {
  accepts(id: string): boolean {
    return id === offlineBaseId;
  }

  async load(id: string): Promise<BaseModel> {
    const dir = nsfwjsModelDir();
    const topologyModule: ModelModule = require(path.join(dir, 'model.min.js'));
    const weightsBase64: string = require(path.join(dir, 'group1-shard1of1.min.js'));
    const weights = Buffer.from(weightsBase64, 'base64');
    const sha256 = createHash('sha256').update(JSON.stringify(topologyModule.modelTopology)).update(weights).digest('hex');
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: topologyModule.modelTopology,
        weightSpecs: topologyModule.weightsManifest.flatMap((group) => group.weights),
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
      }),
    );
    return {
      id,
      source: `npm nsfwjs@${nsfwjsVersion(dir)} dist/models/mobilenet_v2`,
      sha256,
      inputSize: 224,
      inputRange: [0, 1],
      network: { kind: 'layers', model },
      lastFeatureLayer: 'out_relu',
      // The widest activation of each resolution stage (56, 28, 14, 14 and 7 pixels at 224), then the top.
      candidateLayers: ['block_3_expand_relu', 'block_6_expand_relu', 'block_10_expand_relu', 'block_13_expand_relu', 'block_16_expand_relu', 'out_relu'],
      recommendedCut: {
        layer: 'block_13_expand_relu',
        reason:
          "nsfwjs retrained block_11 and above for its own task, so the last layers are specialised; linear probes and LogME on this base peak at block_13_expand_relu (about 10 points above out_relu on natural photos)",
      },
      dispose: () => releaseWeights(model),
    };
  }
}
