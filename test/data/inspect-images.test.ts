import 'reflect-metadata';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ImageFile } from '../../src/data/dataset';
import { inspectImages } from '../../src/data/inspect-images';
import type { DecodedImage, DecodeOptions, ImageDecoder } from '../../src/preprocess/image-decoder';
import { SharpImageDecoder } from '../../src/preprocess/sharp-image-decoder';
import { makeTempDir, noiseJpeg, noisePng, pseudoRandomBytes, removeTempDir, sha256Of, solidImage, truncatedJpeg, writeTree } from '../helpers/images';

const decoder = new SharpImageDecoder();
const inspectOptions = { fit: 'cover' as const, maxInputPixels: 10_000_000, concurrency: 4 };

let workDir: string;
let counter = 0;

/** Writes the files into a fresh folder and returns them as ImageFiles labelled by their parent folder. */
function filesIn(contents: Record<string, Buffer | string>): { root: string; files: ImageFile[] } {
  const root = path.join(workDir, `set-${++counter}`);
  writeTree(root, contents);
  const files = Object.keys(contents).map((rel) => ({ path: path.join(root, rel), label: path.basename(path.dirname(rel)) }));
  return { root, files };
}

/** Counts decode calls and the most that ran at once, delegating to sharp (or failing, when told). */
class CountingDecoder implements ImageDecoder {
  calls: Buffer[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(private readonly delayMs = 0) {}
  async decode(input: Buffer, options: DecodeOptions): Promise<DecodedImage> {
    this.calls.push(input);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      return await decoder.decode(input, options);
    } finally {
      this.inFlight--;
    }
  }
  describe(options: DecodeOptions): string {
    return decoder.describe(options);
  }
}

before(() => {
  workDir = makeTempDir('finetune-inspect-');
});
after(() => removeTempDir(workDir));

describe('inspectImages: bad files', () => {
  test('corrupt, truncated, zero-byte, non-image and unreadable files are skipped with reasons; good ones are records', async () => {
    const good = { 'cats/good.png': await noisePng(1), 'cats/good.jpg': await noiseJpeg(2, 16), 'dogs/good.webp': await solidImage(12, 9, [10, 200, 30]).webp().toBuffer() };
    const bad = {
      'cats/corrupt.png': pseudoRandomBytes(2048, 3),
      'cats/truncated.jpg': await truncatedJpeg(4),
      'cats/empty.jpg': Buffer.alloc(0),
      'dogs/notes.jpg': 'this is a text file, not a JPEG\n',
    };
    const { root, files } = filesIn({ ...good, ...bad });
    // Root can read anything, so an unreadable file is a dangling symlink.
    const dangling = path.join(root, 'dogs', 'dangling.jpg');
    fs.symlinkSync(path.join(root, 'does-not-exist.jpg'), dangling);
    files.push({ path: dangling, label: 'dogs' });

    const { records, skipped } = await inspectImages(files, decoder, inspectOptions);

    assert.deepEqual(records.map((r) => path.relative(root, r.path)).sort(), Object.keys(good).sort());
    assert.equal(skipped.length, 5);
    const reason = (rel: string) => {
      const entry = skipped.find((s) => s.path === path.join(root, rel));
      assert.ok(entry, `${rel} is reported`);
      assert.ok(entry.reason.length > 0);
      return entry.reason;
    };
    assert.match(reason('cats/corrupt.png'), /not an image|unsupported|cannot be decoded/i);
    assert.match(reason('cats/truncated.jpg'), /cannot be decoded/i);
    assert.match(reason('cats/truncated.jpg'), /premature end|truncat/i);
    assert.match(reason('cats/empty.jpg'), /empty file|0 bytes/i);
    assert.match(reason('dogs/notes.jpg'), /not an image/i);
    assert.match(reason('dogs/dangling.jpg'), /unreadable/i);
    assert.match(reason('dogs/dangling.jpg'), /ENOENT/);
  });

  test('an image above the pixel limit is skipped with the limit in its reason', async () => {
    const { files } = filesIn({ 'cats/big.png': await solidImage(100, 100, [1, 2, 3]).png().toBuffer(), 'cats/small.png': await noisePng(5) });
    const { records, skipped } = await inspectImages(files, decoder, { ...inspectOptions, maxInputPixels: 1000 });
    assert.deepEqual(records.map((r) => path.basename(r.path)), ['small.png']);
    assert.equal(skipped.length, 1);
    assert.equal(path.basename(skipped[0].path), 'big.png');
    assert.match(skipped[0].reason, /pixel limit of 1000/);
  });
});

describe('inspectImages: records', () => {
  test('records carry the SHA-256 of the file bytes, their label and given split', async () => {
    const contents = { 'cats/a.png': await noisePng(10), 'cats/b.png': await noisePng(11), 'dogs/c.png': await noisePng(12) };
    const { root, files } = filesIn(contents);
    files[2] = { ...files[2], givenSplit: 'val' };
    const { records, skipped } = await inspectImages(files, decoder, inspectOptions);
    assert.deepEqual(skipped, []);
    assert.equal(records.length, 3);
    for (const record of records) {
      const rel = path.relative(root, record.path) as keyof typeof contents;
      assert.equal(record.sha256, sha256Of(contents[rel]), rel);
      assert.match(record.sha256, /^[0-9a-f]{64}$/);
      assert.equal(record.label, path.dirname(rel));
    }
    assert.equal(records.find((r) => r.label === 'dogs')?.givenSplit, 'val');
    assert.equal(records.find((r) => r.path.endsWith('a.png'))?.givenSplit, undefined);
  });

  test('exact duplicates in one class are kept once and reported; the same bytes in another class are kept', async () => {
    const same = await noisePng(20);
    const { root, files } = filesIn({ 'cats/first.png': same, 'cats/copy.png': same, 'cats/other.png': await noisePng(21), 'dogs/same.png': same });
    const { records, skipped } = await inspectImages(files, decoder, inspectOptions);
    assert.deepEqual(records.map((r) => path.relative(root, r.path)).sort(), ['cats/first.png', 'cats/other.png', 'dogs/same.png']);
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0].path, path.join(root, 'cats/copy.png'));
    assert.match(skipped[0].reason, /duplicate/);
    assert.ok(skipped[0].reason.includes(path.join(root, 'cats/first.png')), `reason names the kept file: ${skipped[0].reason}`);
  });
});

describe('inspectImages: knownGood and concurrency', () => {
  test('a file whose hash is known good is not decoded, so even a corrupt one is kept', async () => {
    const corrupt = pseudoRandomBytes(1024, 30);
    const otherCorrupt = pseudoRandomBytes(1024, 31);
    const goodPng = await noisePng(32);
    const { root, files } = filesIn({ 'cats/cached.jpg': corrupt, 'cats/new.jpg': otherCorrupt, 'cats/fresh.png': goodPng });
    const counting = new CountingDecoder();
    const known = new Set([sha256Of(corrupt)]);
    const { records, skipped } = await inspectImages(files, counting, inspectOptions, (sha) => known.has(sha));
    assert.deepEqual(records.map((r) => path.relative(root, r.path)).sort(), ['cats/cached.jpg', 'cats/fresh.png']);
    assert.deepEqual(skipped.map((s) => path.relative(root, s.path)), ['cats/new.jpg']);
    assert.equal(counting.calls.length, 2, 'only the two unknown files are decoded');
    assert.ok(!counting.calls.some((bytes) => bytes.equals(corrupt)), 'the known-good file is never decoded');
  });

  test('without knownGood every file is decoded', async () => {
    const corrupt = pseudoRandomBytes(1024, 30);
    const { files } = filesIn({ 'cats/cached.jpg': corrupt, 'cats/fresh.png': await noisePng(33) });
    const counting = new CountingDecoder();
    const { records, skipped } = await inspectImages(files, counting, inspectOptions);
    assert.equal(counting.calls.length, 2);
    assert.equal(records.length, 1);
    assert.equal(skipped.length, 1);
  });

  test('no more than `concurrency` decodes run at once', async () => {
    const contents: Record<string, Buffer> = {};
    for (let i = 0; i < 12; i++) contents[`cats/${i}.png`] = await noisePng(100 + i);
    const { files } = filesIn(contents);
    const counting = new CountingDecoder(15);
    const { records } = await inspectImages(files, counting, { ...inspectOptions, concurrency: 3 });
    assert.equal(records.length, 12);
    assert.equal(counting.maxInFlight, 3);
  });
});
