import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import sharp from 'sharp';
import type { ExportMetadata } from '../../src/export/export-metadata';
import type { DecodeOptions } from '../../src/preprocess/image-decoder';
import { SharpImageDecoder } from '../../src/preprocess/sharp-image-decoder';
import { LimitedDecoder } from '../../src/serve/limited-decoder';
import { RequestError } from '../../src/serve/request-error';
import { ServedVersion } from '../../src/serve/served-version';
import { WorkerPriority } from '../../src/serve/thread-priority';
import type { Pixels, VersionModel } from '../../src/serve/version-model';

const metadata = { input: { height: 8, width: 8, channels: 3, range: [0, 255], resize: { fit: 'cover', kernel: 'lanczos3', decoder: 'sharp' } } } as unknown as ExportMetadata;

/** A model whose forward passes end only when the test says so: the queue behind it is what is tested. */
function heldModel(): VersionModel & { release(): void } {
  const waiting: (() => void)[] = [];
  return {
    metadata,
    labels: ['a', 'b'],
    parallelism: 1,
    predict: (images: Pixels[]) => new Promise((resolve) => waiting.push(() => resolve(images.map(() => [0.5, 0.5])))),
    health: () => ({ alive: 1, total: 1 }),
    dispose: async () => {},
    release: () => {
      while (waiting.length > 0) waiting.shift()!();
    },
  };
}

describe('admission control', () => {
  it('refuses a request whose images would pass serve.maxQueuedImages, with 503 and Retry-After', async () => {
    const model = heldModel();
    const served = new ServedVersion(1, 'fingerprint', model, { maxBatchSize: 1, batchTimeoutMs: 0, maxQueuedImages: 8 });
    const image = new Uint8Array(8 * 8 * 3);
    const first = served.predict(new Array(8).fill(image)); // 1 running, 7 waiting
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.throws(
      () => served.predict([image, image]),
      (error: unknown) => error instanceof RequestError && error.statusCode === 503 && error.retryAfterSeconds === 1 && /7 images are waiting.*serve\.maxQueuedImages 8/.test(error.message),
    );
    const fits = served.predict([image]);
    const timer = setInterval(() => model.release(), 1);
    try {
      assert.equal((await first).length, 8);
      assert.equal((await fits).length, 1);
    } finally {
      clearInterval(timer);
    }
  });

  it('decodes at most serve.decodeConcurrency large images at once (real sharp); small ones skip the queue', async () => {
    let running = 0;
    let most = 0;
    const sharpDecoder = new SharpImageDecoder();
    const counting = {
      describe: (options: DecodeOptions) => sharpDecoder.describe(options),
      decode: async (input: Buffer, options: DecodeOptions) => {
        running += 1;
        most = Math.max(most, running);
        try {
          return await sharpDecoder.decode(input, options);
        } finally {
          running -= 1;
        }
      },
    };
    const decoder = new LimitedDecoder(counting, 4_000_000, 2);
    const large = await sharp({ create: { width: 1200, height: 1000, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer();
    const small = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer();
    const served = { size: 8, model: { metadata } } as unknown as ServedVersion;
    const decoded = await Promise.all(Array.from({ length: 6 }, (_, i) => decoder.pixels(large, `image ${i}`, served)));
    assert.equal(decoded.length, 6);
    assert.equal(decoded[0].length, 8 * 8 * 3);
    assert.equal(most, 2);
    most = 0;
    await Promise.all(Array.from({ length: 6 }, (_, i) => decoder.pixels(small, `image ${i}`, served)));
    assert.ok(most > 2, `small images decoded ${most} at a time`);
    const over = await sharp({ create: { width: 2100, height: 2000, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toBuffer();
    await assert.rejects(decoder.pixels(over, 'big', served), (error: unknown) => error instanceof RequestError && error.statusCode === 413);
  });
});

describe('LimitedDecoder priority', () => {
  it('lowers the priority of the libvips threads that large decodes run on, below the thread answering HTTP', async () => {
    const decoder = new LimitedDecoder(new SharpImageDecoder(), 4_000_000, 2, new WorkerPriority(6));
    const large = await sharp({ create: { width: 1200, height: 1000, channels: 3, background: { r: 10, g: 200, b: 10 } } }).png().toBuffer();
    const served = { size: 8, model: { metadata } } as unknown as ServedVersion;
    await decoder.pixels(large, 'image', served);
    const tasks = fs.readdirSync('/proc/self/task').map(Number);
    const libvips = tasks.filter((tid) => fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'libvips worker');
    assert.ok(libvips.length > 0, 'no libvips worker threads');
    const own = os.getPriority(process.pid);
    for (const tid of libvips) assert.equal(os.getPriority(tid), Math.min(19, own + 6), `libvips thread ${tid}`);
  });
});
