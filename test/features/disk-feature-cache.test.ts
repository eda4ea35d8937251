import 'reflect-metadata';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FinetuneConfig } from '../../src/config/schema';
import { DiskFeatureCache, featureKey } from '../../src/features/disk-feature-cache';
import { temporaryDir } from '../helpers/sample-data';
import { runUnprivileged } from '../helpers/unprivileged';

function cacheIn(dir: string, featureCacheMaxMB = 4096): DiskFeatureCache {
  return new DiskFeatureCache({ base: { cacheDir: dir, featureCacheMaxMB } } as FinetuneConfig);
}

function entryFiles(dir: string): string[] {
  const root = path.join(dir, 'features');
  return fs.readdirSync(root).flatMap((sub) => fs.readdirSync(path.join(root, sub)).map((f) => path.join(root, sub, f)));
}

const parts = { imageSha256: 'a'.repeat(64), baseSha256: 'b'.repeat(64), cutLayer: 'block_13_expand_relu', preprocessing: 'sharp 224 cover' };

describe('DiskFeatureCache', () => {
  it('keys change with the image, the base, the cut layer and the preprocessing', () => {
    const keys = new Set([
      featureKey(parts),
      featureKey({ ...parts, imageSha256: 'c'.repeat(64) }),
      featureKey({ ...parts, baseSha256: 'c'.repeat(64) }),
      featureKey({ ...parts, cutLayer: 'out_relu' }),
      featureKey({ ...parts, preprocessing: 'sharp 224 contain' }),
    ]);
    assert.equal(keys.size, 5);
  });

  it('persists across instances bit for bit', () => {
    const dir = temporaryDir('cache');
    const features = Float32Array.from([0.5, -1.25, 3e-8, 42]);
    cacheIn(dir).set('k1', features);
    const reread = cacheIn(dir).get('k1');
    assert.deepEqual(reread, features);
    assert.equal(cacheIn(dir).has('missing'), false);
  });

  for (const [name, corrupt] of [
    ['truncated', (file: string) => fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 30))],
    ['flipped payload byte', (file: string) => {
      const bytes = fs.readFileSync(file);
      bytes[bytes.length - 1] ^= 0xff;
      fs.writeFileSync(file, bytes);
    }],
    ['wrong magic', (file: string) => {
      const bytes = fs.readFileSync(file);
      bytes.write('XXXX', 0);
      fs.writeFileSync(file, bytes);
    }],
    ['empty', (file: string) => fs.writeFileSync(file, '')],
  ] as const) {
    it(`detects a ${name} entry, deletes it and reports it missing`, () => {
      const dir = temporaryDir('cache');
      cacheIn(dir).set('k1', Float32Array.from([1, 2, 3]));
      const [file] = entryFiles(dir);
      corrupt(file);
      assert.equal(cacheIn(dir).get('k1'), undefined);
      assert.equal(fs.existsSync(file), false);
    });
  }

  it('leaves no temporary files behind', () => {
    const dir = temporaryDir('cache');
    const cache = cacheIn(dir);
    for (let i = 0; i < 5; i++) cache.set(`key${i}`, new Float32Array(8).fill(i));
    assert.ok(entryFiles(dir).every((f) => f.endsWith('.f32')));
  });

  it('prunes the least recently used entries beyond its size, keeping those read lately', () => {
    const dir = temporaryDir('cache');
    // 1 MiB bound; entries of 256 KiB (65,536 floats) each.
    const cache = cacheIn(dir, 1);
    const entry = (i: number) => new Float32Array(65_536).fill(i);
    const files: string[] = [];
    for (let i = 0; i < 6; i++) {
      cache.set(`key${i}`, entry(i));
      const [file] = entryFiles(dir).filter((f) => f.includes(`key${i}`));
      const age = new Date(Date.now() - (10 - i) * 60_000);
      fs.utimesSync(file, age, age);
      files.push(file);
    }
    // Reading key0 from disk marks it as just used.
    assert.deepEqual(cacheIn(dir, 1).get('key0'), entry(0));
    const { removed, bytes } = cacheIn(dir, 1).prune();
    assert.ok(bytes <= 0.9 * 2 ** 20, `${bytes} bytes left`);
    assert.equal(removed, 3);
    assert.ok(fs.existsSync(files[0]), 'the entry read last survives');
    assert.ok(!fs.existsSync(files[1]) && !fs.existsSync(files[2]) && !fs.existsSync(files[3]), 'the oldest go');
    assert.ok(fs.existsSync(files[4]) && fs.existsSync(files[5]));
  });

  it('leaves a cache within its size untouched', () => {
    const dir = temporaryDir('cache');
    const cache = cacheIn(dir, 1);
    cache.set('a', new Float32Array(1000));
    assert.deepEqual(cache.prune(), { removed: 0, bytes: entryFiles(dir).reduce((sum, f) => sum + fs.statSync(f).size, 0) });
  });
});

describe('DiskFeatureCache in a folder that is readable but not writable (checked as an unprivileged user)', () => {
  it('serves its entries, and a write is a DataError naming the folder and the fix, not a stack trace', () => {
    const dir = temporaryDir('readonly-cache');
    cacheIn(dir).set('k1', Float32Array.from([1, 2, 3]));
    // Readable and listable by everyone, writable by its owner (root) only.
    for (const folder of [dir, path.join(dir, 'features'), ...fs.readdirSync(path.join(dir, 'features')).map((sub) => path.join(dir, 'features', sub))]) {
      fs.chmodSync(folder, 0o755);
    }
    const module = JSON.stringify(path.resolve(__dirname, '../../src/features/disk-feature-cache.js'));
    const { value, error } = runUnprivileged<{ read: number[] }>(
      `require(${JSON.stringify(require.resolve('reflect-metadata'))});
       const { DiskFeatureCache } = require(${module});
       const cache = new DiskFeatureCache({ base: { cacheDir: args[0], featureCacheMaxMB: 4096 } });
       const read = Array.from(cache.get('k1'));
       try { cache.set('k2', Float32Array.from([4])); } catch (error) { error.read = read; throw error; }
       return { read };`,
      [dir],
    );
    assert.equal(value, undefined, 'the write must fail');
    assert.equal(error?.name, 'DataError');
    assert.equal(error?.exitCode, 2);
    assert.match(error!.message, new RegExp(`^Cannot write the feature cache in ${path.join(dir, 'features')} \\((EACCES|EPERM) on `));
    assert.match(error!.message, /base\.cacheDir \(--cache-dir, FINETUNE_BASE_CACHE_DIR\)/);
    // What was there is still used: the read before the failed write succeeded (a read-only cache still serves).
    const reader = runUnprivileged<number[]>(
      `require(${JSON.stringify(require.resolve('reflect-metadata'))});
       const { DiskFeatureCache } = require(${module});
       return Array.from(new DiskFeatureCache({ base: { cacheDir: args[0], featureCacheMaxMB: 4096 } }).get('k1'));`,
      [dir],
    );
    assert.deepEqual(reader.value, [1, 2, 3]);
  });
});
