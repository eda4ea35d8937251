import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs/promises';
import pLimit from 'p-limit';
import type { Logger } from '../logger';
import type { DecodeOptions, ImageDecoder } from '../preprocess/image-decoder';
import { featureKey } from './disk-feature-cache';
import type { FeatureCache } from './feature-cache';
import type { FrozenRunner } from './frozen-runner';

export interface FeatureSource {
  path: string;
  sha256: string;
}

export interface ExtractFeaturesOptions {
  decoder: ImageDecoder;
  decode: DecodeOptions;
  concurrency: number;
  batchSize: number;
  cache: FeatureCache;
  /** What besides the image bytes determines the features. */
  keyParts: { baseSha256: string; cutLayer: string; preprocessing: string };
  logger: Logger;
}

export interface ExtractedFeatures {
  features: Float32Array[];
  computed: number;
  fromCache: number;
  seconds: number;
}

/**
 * Frozen-part features for every image: from the cache when present, else decoded and run in
 * batches (the next batch decodes while the current one runs). Only one batch of pixels is
 * in memory at a time.
 */
export async function extractFeatures(runner: FrozenRunner, images: FeatureSource[], options: ExtractFeaturesOptions): Promise<ExtractedFeatures> {
  const started = Date.now();
  const keys = images.map((image) => featureKey({ imageSha256: image.sha256, ...options.keyParts }));
  const features: (Float32Array | undefined)[] = keys.map((key) => options.cache.get(key));
  const missing = images.map((_, index) => index).filter((index) => !features[index]);
  const limit = pLimit(options.concurrency);
  const size = options.decode.size;

  const decodeBatch = (indices: number[]) =>
    Promise.all(indices.map((index) => limit(async () => (await options.decoder.decode(await fs.readFile(images[index].path), options.decode)).data)));

  const batches: number[][] = [];
  for (let i = 0; i < missing.length; i += options.batchSize) batches.push(missing.slice(i, i + options.batchSize));
  let next = batches.length > 0 ? decodeBatch(batches[0]) : undefined;
  let done = 0;
  for (let b = 0; b < batches.length; b++) {
    const pixels = await next!;
    next = b + 1 < batches.length ? decodeBatch(batches[b + 1]) : undefined;
    const flat = new Float32Array(pixels.length * size * size * 3);
    pixels.forEach((data, i) => flat.set(data, i * size * size * 3));
    const input = tf.tensor4d(flat, [pixels.length, size, size, 3]);
    let output: tf.Tensor2D | undefined;
    try {
      output = runner.run(input);
      const values = (await output.data()) as Float32Array;
      const width = output.shape[1];
      batches[b].forEach((index, i) => {
        const vector = values.slice(i * width, (i + 1) * width);
        features[index] = vector;
        options.cache.set(keys[index], vector);
      });
    } finally {
      input.dispose();
      output?.dispose();
    }
    done += batches[b].length;
    options.logger.info(`  features ${done}/${missing.length} computed (${(done / ((Date.now() - started) / 1000)).toFixed(1)} img/s)`);
  }
  return {
    features: features as Float32Array[],
    computed: missing.length,
    fromCache: images.length - missing.length,
    seconds: (Date.now() - started) / 1000,
  };
}
