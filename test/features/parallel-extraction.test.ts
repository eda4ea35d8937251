import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { featureKey } from '../../src/features/disk-feature-cache';
import { extractFeatures, type ExtractFeaturesOptions, type FeatureSource } from '../../src/features/extract-features';
import type { FeatureCache } from '../../src/features/feature-cache';
import { createFrozenRunner, type FrozenRunner } from '../../src/features/frozen-runner';
import { liveFrozenWorkers } from '../../src/features/frozen-worker-pool';
import { silentLogger } from '../../src/logger';
import type { BaseModel } from '../../src/models/base-model';
import { NsfwjsMobileNetSource } from '../../src/models/nsfwjs-mobilenet-source';
import { SharpImageDecoder } from '../../src/preprocess/sharp-image-decoder';
import { fixtureAvgPoolNode, loadFixtureGraphBase } from '../helpers/graph-fixture';
import { sampleDir } from '../helpers/sample-data';

/** A FeatureCache in memory that records every set(). */
class RecordingCache implements FeatureCache {
  readonly entries = new Map<string, Float32Array>();
  sets = 0;
  get(key: string) {
    return this.entries.get(key);
  }
  set(key: string, features: Float32Array) {
    this.sets++;
    this.entries.set(key, features);
  }
  has(key: string) {
    return this.entries.has(key);
  }
  prune() {
    return { removed: 0, bytes: 0 };
  }
}

const size = 96;
const bytesOf = (f: Float32Array) => Buffer.from(f.buffer, f.byteOffset, f.byteLength);

function assertIdentical(a: Float32Array[], b: Float32Array[]): void {
  assert.equal(a.length, b.length);
  let maxDifference = 0;
  a.forEach((x, i) => {
    assert.equal(x.length, b[i].length, `image ${i}: feature length`);
    for (let j = 0; j < x.length; j++) maxDifference = Math.max(maxDifference, Math.abs(x[j] - b[i][j]));
  });
  assert.equal(maxDifference, 0, 'largest difference between in-process and worker features');
  a.forEach((x, i) => assert.ok(bytesOf(x).equals(bytesOf(b[i])), `image ${i}: features differ in their bits`));
}

describe('parallel frozen-part extraction (worker threads)', () => {
  let base: BaseModel;
  let images: FeatureSource[];

  before(async () => {
    await tf.setBackend('wasm');
    base = await new NsfwjsMobileNetSource().load('mobilenet_v2');
    // 24 real images: 6 from each of the 4 sample classes.
    images = fs
      .readdirSync(sampleDir)
      .sort()
      .flatMap((label) =>
        fs
          .readdirSync(path.join(sampleDir, label))
          .sort()
          .slice(0, 6)
          .map((file) => path.join(sampleDir, label, file)),
      )
      .map((file) => ({ path: file, sha256: createHash('sha256').update(fs.readFileSync(file)).digest('hex') }));
    assert.equal(images.length, 24);
  });
  after(() => base.dispose());

  const options = (cache: FeatureCache, workers?: number, cutLayer = 'block_13_expand_relu'): ExtractFeaturesOptions => ({
    decoder: new SharpImageDecoder(),
    decode: { size, fit: 'cover', maxInputPixels: 100_000_000 },
    concurrency: 4,
    // 24 images in batches of 10 (10, 10, 4), forwarded in slices of 8: slices of 8, 2 and 4 images.
    batchSize: 10,
    cache,
    keyParts: { baseSha256: base.sha256, cutLayer, preprocessing: `sharp ${size} cover` },
    logger: silentLogger,
    workers,
  });

  async function compare(runner: FrozenRunner<tf.Tensor>, cutLayer: string) {
    const inProcessCache = new RecordingCache();
    const workerCache = new RecordingCache();
    runner.dispose(); // counted without the runner's compiled weights, before and after
    const tensorsBefore = tf.memory().numTensors;
    const single = await extractFeatures(runner, images, options(inProcessCache, undefined, cutLayer));
    runner.dispose();
    assert.equal(tf.memory().numTensors, tensorsBefore, 'in-process extraction leaks no tensors');
    const parallel = await extractFeatures(runner, images, options(workerCache, 2, cutLayer));
    assert.equal(tf.memory().numTensors, tensorsBefore, 'worker extraction creates no tensors in the main thread');
    assert.equal(liveFrozenWorkers(), 0, 'workers are terminated');

    assert.equal(single.workers, 0);
    assert.equal(parallel.workers, 2);
    assert.equal(parallel.computed, 24);
    assert.deepEqual(parallel.featureShape, single.featureShape);
    assertIdentical(single.features, parallel.features);

    // The cache is filled the same way: the same keys with the same bits, each set once.
    assert.equal(workerCache.sets, 24);
    assert.equal(inProcessCache.sets, 24);
    assert.deepEqual([...workerCache.entries.keys()].sort(), [...inProcessCache.entries.keys()].sort());
    for (const [key, value] of inProcessCache.entries) assert.ok(bytesOf(value).equals(bytesOf(workerCache.entries.get(key)!)));

    // A second extraction reads everything from the cache and starts no worker.
    const again = await extractFeatures(runner, images, options(workerCache, 2, cutLayer));
    assert.equal(again.fromCache, 24);
    assert.equal(again.workers, 0);
    assertIdentical(single.features, again.features);
    return single;
  }

  it('pooled features at block_13_expand_relu are identical bit for bit with 2 workers', async () => {
    const runner = createFrozenRunner(base, 'block_13_expand_relu', size);
    assert.equal(runner.pooled, true);
    const single = await compare(runner, 'block_13_expand_relu');
    assert.deepEqual(single.featureShape, [576]);
    assert.equal(single.features[0].length, 576);
  });

  it('pool: false returns the activation at the cut, identical with 2 workers and cached under its own keys', async () => {
    const runner = createFrozenRunner(base, 'block_12_add', size, { pool: false });
    assert.equal(runner.pooled, false);
    assert.deepEqual(runner.featureShape, [6, 6, 96]);
    const probe = tf.zeros([2, size, size, 3]) as tf.Tensor4D;
    const activation = runner.run(probe);
    assert.deepEqual(activation.shape, [2, 6, 6, 96]);
    tf.dispose([probe, activation]);

    const single = await compare(runner, 'block_12_add');
    assert.deepEqual(single.featureShape, [6, 6, 96]);
    assert.equal(single.features[0].length, 6 * 6 * 96);

    // Pooling the cached activation gives what the pooled runner computes (up to the order of the sum).
    const pooled = createFrozenRunner(base, 'block_12_add', size);
    const vectors = await extractFeatures(pooled, images.slice(0, 5), options(new RecordingCache(), 1, 'block_12_add'));
    const mean = tf.tidy(() => tf.mean(tf.tensor4d(single.features[0], [1, 6, 6, 96]), [1, 2]).dataSync());
    for (let c = 0; c < 96; c++) assert.ok(Math.abs(mean[c] - vectors.features[0][c]) <= 1e-5 * Math.max(1, Math.abs(mean[c])));
  });

  it('never uses a cached entry of the wrong length (pooled vectors where activations are expected): recomputes it', async () => {
    const cache = new RecordingCache();
    const some = images.slice(0, 6);
    // The same keyParts for both: the caller forgot to tell pooled from activation.
    const pooled = await extractFeatures(createFrozenRunner(base, 'block_12_add', size), some, options(cache, 1, 'block_12_add'));
    assert.equal(pooled.features[0].length, 96);
    const warnings: string[] = [];
    const activations = await extractFeatures(createFrozenRunner(base, 'block_12_add', size, { pool: false }), some, {
      ...options(cache, 2, 'block_12_add'),
      logger: { info: () => undefined, warn: (message) => warnings.push(message) },
    });
    assert.equal(activations.computed, 6);
    assert.ok(activations.features.every((f) => f.length === 6 * 6 * 96));
    assert.match(warnings.join('\n'), /6 cached feature entries have not 3456 values each; recomputing them/);
    const key = featureKey({ imageSha256: some[0].sha256, baseSha256: base.sha256, cutLayer: 'block_12_add', preprocessing: `sharp ${size} cover` });
    assert.equal(cache.get(key)!.length, 3456);
  });

  it('a GraphModel base (its files, output node and input range go to the workers) gives identical features', async () => {
    const graphBase = await loadFixtureGraphBase();
    try {
      const runner = createFrozenRunner(graphBase, fixtureAvgPoolNode, 224);
      const some = images.filter((_, i) => i % 3 === 0);
      const run = (workers?: number) =>
        extractFeatures(runner, some, { ...options(new RecordingCache(), workers), decode: { size: 224, fit: 'cover', maxInputPixels: 100_000_000 }, batchSize: 3 });
      const single = await run();
      const parallel = await run(2);
      assert.equal(parallel.workers, 2);
      assert.equal(single.features[0].length, 1792); // mobilenet_v2_mid is alpha 1.4
      assertIdentical(single.features, parallel.features);
      assert.equal(liveFrozenWorkers(), 0);
    } finally {
      graphBase.dispose();
    }
  });

  it('a worker that cannot load its frozen part rejects with a clear message and leaves no worker running', async () => {
    const runner = createFrozenRunner(base, 'block_13_expand_relu', size);
    const broken: FrozenRunner = { ...runner, spec: async () => ({ ...(await runner.spec()), weightData: new ArrayBuffer(16) }) };
    const tensorsBefore = tf.memory().numTensors;
    await assert.rejects(extractFeatures(broken, images, options(new RecordingCache(), 2)), (error: Error) => {
      assert.match(error.message, /^Feature extraction failed in frozen-part worker \d of 2: could not load the frozen part: /);
      return true;
    });
    assert.equal(liveFrozenWorkers(), 0);
    assert.equal(tf.memory().numTensors, tensorsBefore);
  });

  it('an error in a worker while it runs a batch rejects the extraction', async () => {
    // The frozen part expects 64x64 inputs; the images are decoded at 96x96.
    const runner = createFrozenRunner(base, 'block_13_expand_relu', 64);
    const cache = new RecordingCache();
    await assert.rejects(extractFeatures(runner, images, options(cache, 2)), (error: Error) => {
      assert.match(error.message, /^Feature extraction failed in frozen-part worker \d of 2: .*shape/);
      return true;
    });
    assert.equal(liveFrozenWorkers(), 0);
  });

  for (const [failure, message] of [
    ['exit', /frozen-part worker \d of 2 exited unexpectedly \(exit code 3\)/],
    ['throw', /frozen-part worker \d of 2 crashed: injected failure in the worker/],
  ] as const) {
    it(`a worker that dies (${failure}) mid-extraction rejects (no hang) and leaves no worker running`, async () => {
      const runner = createFrozenRunner(base, 'block_13_expand_relu', size);
      process.env.FROZEN_TEST_FAILURE = failure;
      try {
        const extraction = extractFeatures(runner, images, { ...options(new RecordingCache(), 2), workerScript: path.join(__dirname, 'crashing-worker.js') });
        await assert.rejects(extraction, (error: Error) => {
          assert.match(error.message, message);
          return true;
        });
      } finally {
        delete process.env.FROZEN_TEST_FAILURE;
      }
      assert.equal(liveFrozenWorkers(), 0);
    });
  }
});
