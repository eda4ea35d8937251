import * as tf from '@tensorflow/tfjs';
import { inject, injectable } from 'inversify';
import fs from 'node:fs';
import path from 'node:path';
import { FinetuneConfig } from '../config/schema';
import { DataError } from '../errors';
import { Logger } from '../logger';
import type { BaseModel, BaseModelSource } from './base-model';
import { downloadModelFiles, verifyDownloadedModel } from './download-model';
import { mobileNetLayout } from './hub-mobilenet-architecture';
import { buildTwinFromGraph, reluLayerName, twinHeadNames } from './hub-mobilenet-twin';
import { ioHandlerFor, readModelFiles, type ModelFiles } from './model-files';
import { releaseWeights } from './release-weights';

/** One of the @tensorflow-models/mobilenet@2 models (its MODEL_INFO and EMBEDDING_NODES). */
export interface HubMobileNet {
  /** Normalized id, e.g. "mobilenet_v1_0.50". */
  id: string;
  version: 1 | 2;
  /** Width multiplier with two decimals, e.g. "0.50". */
  alpha: string;
  /** Model path on TF Hub, e.g. "/google/imagenet/mobilenet_v2_100_224/classification/2". */
  hubPath: string;
  /** Node whose output is the global-pooled embedding before the classifier. */
  embeddingNode: string;
}

const alphasByVersion: Record<1 | 2, string[]> = {
  1: ['0.25', '0.50', '0.75', '1.00'],
  2: ['0.50', '0.75', '1.00'],
};

const embeddingNodes: Record<1 | 2, string> = {
  1: 'module_apply_default/MobilenetV1/Logits/global_pool',
  2: 'module_apply_default/MobilenetV2/Logits/AvgPool',
};

/** Ids this source claims: mobilenet_v1_<number> or mobilenet_v2_<number>; the number is checked in load. */
const hubIdPattern = /^mobilenet_v([12])_(\d+(?:\.\d*)?|\.\d+)$/;

/** As tfjs-converter's getTFHubUrl forms it for loadGraphModel(url, {fromTFHub: true}). */
const tfHubModelName = 'model.json';
const tfHubSearchParam = '?tfjs-format=file';

/** Input side of every @tensorflow-models/mobilenet model (its IMAGE_SIZE). */
const hubInputSize = 224;

/** Parses "mobilenet_v2_1.0", "mobilenet_v1_0.5", ...; undefined when the id is not a hub MobileNet or its alpha does not exist. */
export function parseHubMobileNetId(id: string): HubMobileNet | undefined {
  const match = hubIdPattern.exec(id);
  if (!match) return undefined;
  const version = Number(match[1]) as 1 | 2;
  const alpha = Number(match[2]).toFixed(2);
  if (!alphasByVersion[version].includes(alpha)) return undefined;
  const digits = alpha.replace('.', '');
  return {
    id: `mobilenet_v${version}_${alpha}`,
    version,
    alpha,
    hubPath: `/google/imagenet/mobilenet_v${version}_${digits}_224/classification/${version}`,
    embeddingNode: embeddingNodes[version],
  };
}

/** The URL tfjs would fetch model.json from, with hubUrl in place of https://tfhub.dev. */
export function hubModelJsonUrl(hubUrl: string, hubPath: string): string {
  return `${hubUrl.replace(/\/+$/, '')}${hubPath}/${tfHubModelName}${tfHubSearchParam}`;
}

/** Widest activation of each resolution stage, then the last feature map (as the offline base's candidates). */
const twinCandidates: Record<1 | 2, string[]> = {
  1: [3, 5, 8, 11, 13].map((block) => reluLayerName(`Conv2d_${block}_pointwise`)),
  2: [...[3, 6, 10, 13, 16].map((block) => reluLayerName(`expanded_conv_${block}/expand`)), reluLayerName('Conv_1')],
};

/** The twin as a base: a LayersModel like the offline base, keeping the download's identity. */
function twinBase(hub: HubMobileNet, url: string, sha256: string, model: tf.LayersModel, twinSeconds: number): BaseModel {
  return {
    id: hub.id,
    source: url,
    sha256,
    inputSize: hubInputSize,
    inputRange: [0, 1],
    network: { kind: 'layers', model },
    lastFeatureLayer: twinHeadNames(hub.version).lastFeatureMap,
    candidateLayers: twinCandidates[hub.version],
    twinOf: {
      hubPath: hub.hubPath,
      note: 'a LayersModel rebuilt from the TF Hub GraphModel: batch norm was folded into the convolutions by the converter, so they have biases and no batch norm',
    },
    timings: { twin_s: twinSeconds },
    dispose: () => releaseWeights(model),
  };
}

/**
 * MobileNet v1/v2 GraphModels from TF Hub (the @tensorflow-models/mobilenet@2 set), downloaded
 * once into <base.cacheDir>/hub/<id>/ and loaded from there afterwards, also offline. Each is
 * rebuilt as its trainable twin (a LayersModel with the graph's weights); a download that does not
 * have the MobileNet layout stays a GraphModel, usable as frozen features only.
 */
@injectable()
export class HubMobileNetSource implements BaseModelSource {
  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  accepts(id: string): boolean {
    return hubIdPattern.test(id);
  }

  async load(id: string): Promise<BaseModel> {
    const hub = parseHubMobileNetId(id);
    if (!hub) {
      const version = (Number(hubIdPattern.exec(id)?.[1]) || 2) as 1 | 2;
      throw new DataError(
        `Unknown TF Hub base model "${id}". Expected mobilenet_v${version}_<alpha> with alpha one of ${alphasByVersion[version].join(', ')} ` +
          `(e.g. mobilenet_v${version}_1.00), or the offline default mobilenet_v2.`,
      );
    }
    const url = hubModelJsonUrl(this.config.base.hubUrl, hub.hubPath);
    const dir = path.resolve(this.config.base.cacheDir, 'hub', hub.id);
    await this.ensureDownloaded(hub.id, url, dir);

    const files = readModelFiles(dir);
    const started = Date.now();
    try {
      const twin = buildTwinFromGraph(mobileNetLayout(hub.version, Number(hub.alpha)), files, hubInputSize);
      return twinBase(hub, url, files.sha256, twin.model, (Date.now() - started) / 1000);
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      this.logger.warn(
        `${dir}/model.json is not laid out as the TF Hub ${hub.id} (${error.message}); it cannot be rebuilt as a trainable model, so it serves as frozen features only`,
      );
    }
    return this.graphBase(hub, url, dir, files);
  }

  /** The downloaded GraphModel itself: frozen features only. */
  private async graphBase(hub: HubMobileNet, url: string, dir: string, files: ModelFiles): Promise<BaseModel> {
    let model: tf.GraphModel;
    try {
      model = await tf.loadGraphModel(ioHandlerFor(files));
    } catch (error) {
      throw new DataError(
        `${dir}/model.json (downloaded from ${url}) could not be loaded as a tfjs GraphModel: ${(error as Error).message}. ` +
          `Expected a MobileNet GraphModel; check base.hubUrl, then delete ${dir} to download it again.`,
      );
    }
    return {
      id: hub.id,
      source: url,
      sha256: files.sha256,
      inputSize: hubInputSize,
      inputRange: [0, 1],
      network: { kind: 'graph', model, outputNode: hub.embeddingNode, files },
      lastFeatureLayer: hub.embeddingNode,
      // A GraphModel cannot be probed layer by layer here: only its embedding is scored.
      candidateLayers: [hub.embeddingNode],
      dispose: () => model.dispose(),
    };
  }

  private async ensureDownloaded(id: string, url: string, dir: string): Promise<void> {
    if (fs.existsSync(dir)) {
      const check = verifyDownloadedModel(dir);
      if (check.ok) {
        this.logger.info(`using cached ${id} from ${dir}`);
        return;
      }
      this.logger.warn(`cached ${id} in ${dir} is corrupt (${check.problem}); deleting it and downloading again`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    this.logger.info(`downloading ${id} from ${url} into ${dir}`);
    await downloadModelFiles(url, dir, { timeoutMs: this.config.base.downloadTimeoutSeconds * 1000, logger: this.logger });
  }
}
