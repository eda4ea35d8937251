import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Dataset, ImageRecord } from '../../src/data/dataset';
import { DataError } from '../../src/errors';
import { featureKey } from '../../src/features/disk-feature-cache';
import { extractFeatures, type ExtractFeaturesOptions } from '../../src/features/extract-features';
import type { FeatureCache } from '../../src/features/feature-cache';
import { createFrozenRunner, type FrozenRunner } from '../../src/features/frozen-runner';
import { silentLogger } from '../../src/logger';
import type { BaseModel } from '../../src/models/base-model';
import { NsfwjsMobileNetSource } from '../../src/models/nsfwjs-mobilenet-source';
import { extractDatasetFeatures } from '../../src/pipeline/extract-dataset-features';
import { SharpImageDecoder } from '../../src/preprocess/sharp-image-decoder';
import { makeTempDir, noisePng, removeTempDir, sha256Of } from '../helpers/images';

class MemoryCache implements FeatureCache {
  readonly entries = new Map<string, Float32Array>();
  get(key: string) {
    return this.entries.get(key);
  }
  set(key: string, features: Float32Array) {
    this.entries.set(key, features);
  }
  has(key: string) {
    return this.entries.has(key);
  }
  prune() {
    return { removed: 0, bytes: 0 };
  }
}

const size = 32;
const keyParts = { baseSha256: 'base', cutLayer: 'block_1_expand_relu', preprocessing: 'test' };

describe('a file changed between the check and extraction', () => {
  let base: BaseModel;
  let runner: FrozenRunner<tf.Tensor>;
  let workDir: string;
  let seed = 500;

  before(async () => {
    await tf.setBackend('wasm');
    base = await new NsfwjsMobileNetSource().load('mobilenet_v2');
    runner = createFrozenRunner(base, keyParts.cutLayer, size);
    workDir = makeTempDir('finetune-changed-');
  });
  after(() => {
    runner.dispose();
    base.dispose();
    removeTempDir(workDir);
  });

  /** Checked images (path + the hash of what was checked), as the loader records them. */
  async function checkedImages(label: string, count: number): Promise<ImageRecord[]> {
    const records: ImageRecord[] = [];
    for (let i = 0; i < count; i++) {
      const file = path.join(workDir, `${label}-${++seed}.png`);
      const bytes = await noisePng(seed, 16);
      fs.writeFileSync(file, bytes);
      records.push({ path: file, label, sha256: sha256Of(bytes) });
    }
    return records;
  }

  const options = (cache: FeatureCache): ExtractFeaturesOptions => ({
    decoder: new SharpImageDecoder(),
    decode: { size, fit: 'cover', maxInputPixels: 1e6 },
    concurrency: 2,
    batchSize: 4,
    cache,
    keyParts,
    logger: silentLogger,
    workers: 1,
  });

  it('a swapped-in valid image is skipped with a reason and never cached under the old hash; a corrupted one too', async () => {
    const images = await checkedImages('a', 3);
    fs.writeFileSync(images[1].path, await noisePng(9999, 16)); // another valid image
    fs.writeFileSync(images[2].path, 'no longer an image');
    const cache = new MemoryCache();
    const extracted = await extractFeatures(runner, images, { ...options(cache), changedImages: 'skip' });
    assert.deepEqual(
      extracted.skipped.map(({ index, path: file }) => ({ index, file })),
      [1, 2].map((index) => ({ index, file: images[index].path })),
    );
    for (const entry of extracted.skipped) assert.match(entry.reason, /^changed after it was checked \(SHA-256 [0-9a-f]{12}\.\.\., checked [0-9a-f]{12}\.\.\.\)$/);
    assert.ok(extracted.features[0] instanceof Float32Array);
    assert.equal(extracted.features[1], undefined);
    assert.equal(extracted.computed, 1);
    assert.deepEqual([...cache.entries.keys()], [featureKey({ imageSha256: images[0].sha256, ...keyParts })], 'only what was checked is cached');
  });

  it('by default the run stops with a DataError naming the file (not an anonymous decode error)', async () => {
    const images = await checkedImages('b', 2);
    fs.writeFileSync(images[1].path, 'no longer an image');
    await assert.rejects(extractFeatures(runner, images, options(new MemoryCache())), (error: unknown) => {
      assert.ok(error instanceof DataError);
      assert.match(error.message, new RegExp(`^${images[1].path} changed after it was checked \\(SHA-256 .*Expected the data folder to stay unchanged`));
      return true;
    });
  });

  it('the pipeline step takes the file out of its split and lists it in skipped; features and labels stay aligned', async () => {
    const cats = await checkedImages('cats', 3);
    const dogs = await checkedImages('dogs', 3);
    const dataset: Dataset = {
      root: workDir,
      layout: 'folders',
      labels: ['cats', 'dogs'],
      train: [cats[0], cats[1], dogs[0], dogs[1]],
      val: [cats[2], dogs[2]],
      test: [],
      skipped: [],
      warnings: [],
    };
    fs.writeFileSync(cats[1].path, await noisePng(8888, 16));
    const result = await extractDatasetFeatures(runner, dataset, {
      ...options(new MemoryCache()),
      augment: { views: 1, minCropArea: 0.8, flip: true, rotationDegrees: 0, brightness: 0, contrast: 0, seed: 1 },
    });
    try {
      assert.deepEqual(dataset.train, [cats[0], dogs[0], dogs[1]]);
      assert.deepEqual(dataset.skipped.map((s) => s.path), [cats[1].path]);
      assert.deepEqual(result.train.labels, [0, 1, 1, 0, 1, 1], 'three images and their augmented views');
      assert.equal(result.train.x.shape[0], 6);
      assert.deepEqual(result.val?.labels, [0, 1]);
    } finally {
      result.tensors.forEach((t) => t.dispose());
    }
  });
});
