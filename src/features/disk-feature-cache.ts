import { inject, injectable } from 'inversify';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { FinetuneConfig } from '../config/schema';
import { DataError, RuntimeFailure } from '../errors';
import type { FeatureCache } from './feature-cache';

const magic = Buffer.from('FTF1');
const headerBytes = magic.length + 4 + 32;
/** Error codes of a cache folder that is set up wrong (a data/config error), as opposed to e.g. a full disk. */
const notWritable = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST']);

/**
 * Features on disk, one file per key: magic, float count, SHA-256 of the
 * payload, payload. Files are written to a temporary name and renamed, and an entry whose
 * size, magic or checksum is wrong is deleted and reported missing, never used. The disk part
 * is bounded: reading an entry marks it used, and prune() drops the least recently used ones.
 */
@injectable()
export class DiskFeatureCache implements FeatureCache {
  /**
   * Entries read by has() wait here for the get() that follows, so the file is read once. They are
   * handed over, not kept: the caller owns features, and the cache never holds a dataset's worth.
   */
  private readonly pending = new Map<string, Float32Array>();
  private readonly dir: string;
  private readonly maxBytes: number;

  constructor(@inject(FinetuneConfig) config: FinetuneConfig) {
    this.dir = path.join(config.base.cacheDir, 'features');
    this.maxBytes = config.base.featureCacheMaxMB * 1024 * 1024;
  }

  private fileFor(key: string): string {
    return path.join(this.dir, key.slice(0, 2), `${key}.f32`);
  }

  has(key: string): boolean {
    if (this.pending.has(key)) return true;
    const features = this.read(key);
    if (features) this.pending.set(key, features);
    return features !== undefined;
  }

  get(key: string): Float32Array | undefined {
    const waiting = this.pending.get(key);
    if (waiting) {
      this.pending.delete(key);
      return waiting;
    }
    return this.read(key);
  }

  private read(key: string): Float32Array | undefined {
    const file = this.fileFor(key);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch {
      return undefined;
    }
    const features = decodeEntry(bytes);
    // A cache this user may read but not write still serves its good entries: removing a bad one and
    // marking a good one used are best effort (set() says clearly when the folder cannot be written).
    try {
      if (!features) fs.rmSync(file, { force: true });
      else {
        const now = new Date();
        fs.utimesSync(file, now, now);
      }
    } catch {
      // read-only cache
    }
    return features;
  }

  set(key: string, features: Float32Array): void {
    const file = this.fileFor(key);
    const temporary = `${file}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(temporary, encodeEntry(features));
      fs.renameSync(temporary, file);
    } catch (error) {
      try {
        fs.rmSync(temporary, { force: true });
      } catch {
        // nothing was written
      }
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      const message =
        `Cannot write the feature cache in ${this.dir} (${code} on ${path.relative(this.dir, file)}). Expected a folder this user can write; ` +
        'fix its permissions or free space, or point base.cacheDir (--cache-dir, FINETUNE_BASE_CACHE_DIR) at a writable folder.';
      throw notWritable.has(code) ? new DataError(message) : new RuntimeFailure(message);
    }
  }

  prune(): { removed: number; bytes: number } {
    this.pending.clear();
    let entries: { file: string; size: number; used: number }[];
    try {
      entries = fs.readdirSync(this.dir).flatMap((sub) =>
        fs.readdirSync(path.join(this.dir, sub)).map((name) => {
          const file = path.join(this.dir, sub, name);
          const stat = fs.statSync(file);
          return { file, size: stat.size, used: stat.mtimeMs };
        }),
      );
    } catch {
      return { removed: 0, bytes: 0 };
    }
    let total = entries.reduce((sum, entry) => sum + entry.size, 0);
    let removed = 0;
    // Prune to 90% of the bound, so that every run does not prune again.
    const target = this.maxBytes * 0.9;
    if (total <= this.maxBytes) return { removed, bytes: total };
    for (const entry of entries.sort((a, b) => a.used - b.used)) {
      if (total <= target) break;
      fs.rmSync(entry.file, { force: true });
      total -= entry.size;
      removed += 1;
    }
    return { removed, bytes: total };
  }
}

function encodeEntry(features: Float32Array): Buffer {
  const payload = Buffer.from(features.buffer, features.byteOffset, features.byteLength);
  const count = Buffer.alloc(4);
  count.writeUInt32LE(features.length);
  return Buffer.concat([magic, count, createHash('sha256').update(payload).digest(), payload]);
}

function decodeEntry(bytes: Buffer): Float32Array | undefined {
  if (bytes.length < headerBytes || !bytes.subarray(0, magic.length).equals(magic)) return undefined;
  const count = bytes.readUInt32LE(magic.length);
  if (bytes.length !== headerBytes + count * 4) return undefined;
  const payload = bytes.subarray(headerBytes);
  if (!createHash('sha256').update(payload).digest().equals(bytes.subarray(magic.length + 4, headerBytes))) return undefined;
  const features = new Float32Array(count);
  Buffer.from(features.buffer).set(payload);
  return features;
}

/** Cache key: the image bytes, the base weights, the cut layer and the preprocessing. */
export function featureKey(parts: { imageSha256: string; baseSha256: string; cutLayer: string; preprocessing: string }): string {
  return createHash('sha256')
    .update([parts.imageSha256, parts.baseSha256, parts.cutLayer, parts.preprocessing].join('\n'))
    .digest('hex');
}
