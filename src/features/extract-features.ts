import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import { readImageFile } from '../data/read-image-file';
import { DataError } from '../errors';
import type { Logger } from '../logger';
import { LogLineProgress, type Progress } from '../progress';
import type { DecodeOptions, ImageDecoder } from '../preprocess/image-decoder';
import { featureKey } from './disk-feature-cache';
import type { FeatureCache } from './feature-cache';
import { forwardSliceSize, pixelsToTensor } from './frozen-forward';
import type { FrozenRunner } from './frozen-runner';
import { FrozenWorkerPool } from './frozen-worker-pool';

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
  /**
   * Frozen-part forward passes in parallel: 1 or undefined runs them in this thread; n > 1 runs
   * them in n worker threads, each with its own tfjs and copy of the frozen part, on the very
   * slices of images the in-process runner forwards (the features are identical bit for bit).
   * Fewer workers start when there are fewer slices. Only the wasm and cpu backends use workers;
   * on the native backends (which use every core already) extraction stays in this thread.
   */
  workers?: number;
  /** Worker script override, for tests only. */
  workerScript?: string;
  /** Shows images computed so far; defaults to log lines through `logger`. */
  progress?: Progress;
  /** The step's name in progress output. Defaults to "features". */
  progressLabel?: string;
  /**
   * What to do with an image whose bytes no longer match its sha256 (changed since it was checked) or
   * no longer decode: "fail" (the default) throws a DataError naming it; "skip" leaves its features
   * undefined and lists it in `skipped`. Its features are never cached under the old hash.
   */
  changedImages?: 'fail' | 'skip';
}

/** An image left out of extraction, and why. */
export interface ChangedImage {
  index: number;
  path: string;
  reason: string;
}

export interface ExtractedFeatures {
  /** One flat Float32Array per image, in the order of the images; undefined for an image in `skipped`. */
  features: Float32Array[];
  /** Images that changed since they were checked (changedImages "skip"). */
  skipped: ChangedImage[];
  /** Shape of one image's features ([C] pooled, [H, W, C] unpooled), when known. */
  featureShape?: number[];
  computed: number;
  fromCache: number;
  seconds: number;
  /** Worker threads that computed the features (0: this thread). */
  workers: number;
  /** Seconds spent starting the workers (loading tfjs, the backend and the frozen part), overlapping the first decodes. */
  workerStartSeconds?: number;
}

const workerBackends = new Set(['wasm', 'cpu']);
/** Decoded slices waiting per worker, beyond the one it runs. */
const decodeAheadPerWorker = 2;

/**
 * Frozen-part features for every image: from the cache when present, else decoded and run in
 * batches while the next batches decode. Pixels in memory are bounded by what is in flight: in
 * this thread one batch running and one decoding; with workers one slice of forwardSliceSize
 * images running in each worker and up to decodeAheadPerWorker slices per worker decoded or
 * decoding. Never the whole dataset.
 */
export async function extractFeatures(runner: FrozenRunner<tf.Tensor>, images: FeatureSource[], options: ExtractFeaturesOptions): Promise<ExtractedFeatures> {
  const started = Date.now();
  const keys = images.map((image) => featureKey({ imageSha256: image.sha256, ...options.keyParts }));
  let featureShape = runner.featureShape;
  // keyParts must tell pooled vectors from whole activations (e.g. cutLayer "x@activation"); an
  // entry of the wrong length is never used, it is recomputed and overwritten.
  const width = featureShape?.reduce((a, b) => a * b, 1);
  let wrongLength = 0;
  const features: (Float32Array | undefined)[] = keys.map((key) => {
    const cached = options.cache.get(key);
    if (cached && width !== undefined && cached.length !== width) {
      wrongLength++;
      return undefined;
    }
    return cached;
  });
  if (wrongLength > 0) {
    options.logger.warn(`${wrongLength} cached feature entries have not ${width} values each; recomputing them (keyParts should distinguish pooled features from activations)`);
  }
  const missing = images.map((_, index) => index).filter((index) => !features[index]);
  const limit = pLimit(options.concurrency);
  const size = options.decode.size;
  const imageBytes = size * size * 3;

  const skipped = new Map<number, ChangedImage>();
  /** The pixels of what was checked, or undefined (after recording why) when the file changed since. */
  const decodeChecked = async (index: number): Promise<Uint8Array | undefined> => {
    const image = images[index];
    let reason: string;
    try {
      const bytes = await readImageFile(image.path);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (sha256 === image.sha256) return (await options.decoder.decode(bytes, options.decode)).data;
      reason = `changed after it was checked (SHA-256 ${sha256.slice(0, 12)}..., checked ${image.sha256.slice(0, 12)}...)`;
    } catch (error) {
      reason = `changed after it was checked: ${(error as Error).message}`;
    }
    if (options.changedImages !== 'skip') {
      throw new DataError(`${image.path} ${reason}. Expected the data folder to stay unchanged while finetune runs; run again once it is.`);
    }
    skipped.set(index, { index, path: image.path, reason });
    options.logger.warn(`skipped ${image.path}: ${reason}`);
    return undefined;
  };

  /** One batch's pixels as one buffer (N x S x S x 3 bytes); a skipped image's place stays black and is not stored. */
  const decodeBatch = async (indices: number[]): Promise<Uint8Array> => {
    const decoded = await Promise.all(indices.map((index) => limit(() => decodeChecked(index))));
    const flat = new Uint8Array(indices.length * imageBytes);
    decoded.forEach((data, i) => {
      if (data === undefined) return;
      if (data.length !== imageBytes) throw new Error(`${images[indices[i]].path} decoded to ${data.length} bytes, expected ${size}x${size}x3`);
      flat.set(data, i * imageBytes);
    });
    return flat;
  };

  const batches: number[][] = [];
  for (let i = 0; i < missing.length; i += options.batchSize) batches.push(missing.slice(i, i + options.batchSize));
  let done = 0;
  const task = missing.length > 0 ? (options.progress ?? new LogLineProgress(options.logger)).start(options.progressLabel ?? 'features', missing.length, 'images') : undefined;
  const store = (batch: number[], values: Float32Array, shape: number[]) => {
    const width = values.length / batch.length;
    featureShape ??= shape.slice(1);
    batch.forEach((index, i) => {
      if (skipped.has(index)) return;
      const vector = values.slice(i * width, (i + 1) * width);
      features[index] = vector;
      options.cache.set(keys[index], vector);
    });
    done += batch.length;
    task?.update(done);
  };

  // Workers run the slices that the in-process runner runs within each batch (frozen-forward.ts).
  const slices = batches.flatMap((batch) => {
    const parts: number[][] = [];
    for (let i = 0; i < batch.length; i += forwardSliceSize) parts.push(batch.slice(i, i + forwardSliceSize));
    return parts;
  });
  let workers = Math.min(Math.max(1, Math.floor(options.workers ?? 1)), slices.length);
  const backend = tf.getBackend();
  if (workers > 1 && !workerBackends.has(backend)) {
    options.logger.info(`  features: the ${backend} backend uses every core itself; extracting in one thread instead of ${workers} workers`);
    workers = 1;
  }
  let workerStartSeconds: number | undefined;
  try {
    if (workers > 1) {
      options.logger.info(`  features: ${missing.length} images in ${workers} worker threads (${backend} backend each)`);
      workerStartSeconds = await computeInWorkers(runner, slices, decodeBatch, store, { workers, backend, size, script: options.workerScript });
    } else await computeInProcess(runner, batches, decodeBatch, store, size);
  } finally {
    task?.stop();
  }

  return {
    features: features as Float32Array[],
    skipped: [...skipped.values()].sort((a, b) => a.index - b.index),
    ...(featureShape ? { featureShape } : {}),
    computed: missing.length - skipped.size,
    fromCache: images.length - missing.length,
    seconds: (Date.now() - started) / 1000,
    workers: workers > 1 ? workers : 0,
    ...(workerStartSeconds !== undefined ? { workerStartSeconds } : {}),
  };
}

type DecodeBatch = (indices: number[]) => Promise<Uint8Array>;
type Store = (batch: number[], values: Float32Array, shape: number[]) => void;

/** Starts decoding a batch now; its rejection is handled by whoever awaits it (or nobody, after a failure). */
function startDecoding(decodeBatch: DecodeBatch, batch: number[]): Promise<Uint8Array> {
  const promise = decodeBatch(batch);
  promise.catch(() => undefined);
  return promise;
}

/** The reference path: one batch runs in this thread while the next one decodes. */
async function computeInProcess(runner: FrozenRunner<tf.Tensor>, batches: number[][], decodeBatch: DecodeBatch, store: Store, size: number): Promise<void> {
  let next = batches.length > 0 ? startDecoding(decodeBatch, batches[0]) : undefined;
  for (let b = 0; b < batches.length; b++) {
    const pixels = await next!;
    next = b + 1 < batches.length ? startDecoding(decodeBatch, batches[b + 1]) : undefined;
    let input: tf.Tensor4D | undefined;
    let output: tf.Tensor | undefined;
    try {
      input = pixelsToTensor(pixels, batches[b].length, size);
      output = runner.run(input);
      store(batches[b], (await output.data()) as Float32Array, output.shape);
    } finally {
      input?.dispose();
      output?.dispose();
    }
  }
}

/**
 * Worker threads, on the same computations as computeInProcess: each batch is cut into the slices
 * of forwardSliceSize images that the in-process runner runs one after another, and each worker
 * runs one slice at a time while this thread decodes ahead (at most `decodeAheadPerWorker` slices
 * per worker waiting). Workers start while the first slices decode. Any failure rejects; the
 * workers are terminated in every case.
 */
async function computeInWorkers(
  runner: FrozenRunner<tf.Tensor>,
  slices: number[][],
  decodeBatch: DecodeBatch,
  store: Store,
  options: { workers: number; backend: string; size: number; script?: string },
): Promise<number> {
  const lanes = options.workers;
  const decoding = new Map<number, Promise<Uint8Array>>();
  let taken = 0;
  const decodeAhead = () => {
    const until = Math.min(slices.length, taken + lanes * (1 + decodeAheadPerWorker));
    for (let s = taken; s < until; s++) if (!decoding.has(s)) decoding.set(s, startDecoding(decodeBatch, slices[s]));
  };
  decodeAhead();
  const started = Date.now();
  const pool = await FrozenWorkerPool.start(await runner.spec(), { workers: lanes, backend: options.backend, script: options.script });
  const startSeconds = (Date.now() - started) / 1000;
  try {
    const lane = async (worker: number) => {
      while (taken < slices.length) {
        const s = taken++;
        decodeAhead();
        const pixels = await decoding.get(s)!;
        decoding.delete(s);
        const output = await pool.run(worker, pixels, slices[s].length, options.size);
        store(slices[s], output.values, output.shape);
      }
    };
    await Promise.all(Array.from({ length: lanes }, (_, worker) => lane(worker)));
    return startSeconds;
  } finally {
    await pool.terminate();
  }
}
