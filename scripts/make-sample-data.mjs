#!/usr/bin/env node
// Regenerates the small embedded sample dataset in models/samples/ from
// Debian's Fashion-MNIST package (dataset-fashion-mnist).
//
//   node scripts/make-sample-data.mjs [--per-class N] [--test-per-class N]
//
// Writes 28x28 single-channel grayscale PNGs:
//   models/samples/fashion-mnist/<class>/train-<index>.png       (from the train file)
//   models/samples/fashion-mnist-test/<class>/test-<index>.png   (from the t10k file)
// <index> is the zero-based position of the image in the IDX file, zero-padded to 5 digits.
// Both folders are deleted and recreated on every run; output is byte-for-byte deterministic.

import { existsSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const SOURCE_DIR = '/usr/share/datasets/fashion-mnist';
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SAMPLES_DIR = join(REPO_ROOT, 'models', 'samples');

// Fashion-MNIST label numbers -> folder names used here.
const CLASSES = [
  { name: 'trouser', label: 1 },
  { name: 'dress', label: 3 },
  { name: 'sneaker', label: 7 },
  { name: 'bag', label: 8 },
];

const IMAGES_MAGIC = 0x00000803;
const LABELS_MAGIC = 0x00000801;
const SIDE = 28;

function fail(message) {
  console.error(`make-sample-data: ${message}`);
  process.exit(1);
}

function parseCount(value, flag, fallback) {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) fail(`${flag} must be a positive integer, got "${value}"`);
  return Number(value);
}

function readGz(file) {
  const path = join(SOURCE_DIR, file);
  if (!existsSync(path)) {
    fail(`missing ${path}\nThe Fashion-MNIST IDX files come from Debian; install with: apt-get install dataset-fashion-mnist`);
  }
  return gunzipSync(readFileSync(path));
}

function readImages(file) {
  const buf = readGz(file);
  const magic = buf.readUInt32BE(0);
  if (magic !== IMAGES_MAGIC) fail(`${file}: bad magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x00000803`);
  const count = buf.readUInt32BE(4);
  const rows = buf.readUInt32BE(8);
  const cols = buf.readUInt32BE(12);
  if (rows !== SIDE || cols !== SIDE) fail(`${file}: expected ${SIDE}x${SIDE} images, got ${rows}x${cols}`);
  if (buf.length !== 16 + count * rows * cols) fail(`${file}: size ${buf.length} does not match header (${count} images)`);
  return { count, at: (i) => buf.subarray(16 + i * SIDE * SIDE, 16 + (i + 1) * SIDE * SIDE) };
}

function readLabels(file) {
  const buf = readGz(file);
  const magic = buf.readUInt32BE(0);
  if (magic !== LABELS_MAGIC) fail(`${file}: bad magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x00000801`);
  const count = buf.readUInt32BE(4);
  if (buf.length !== 8 + count) fail(`${file}: size ${buf.length} does not match header (${count} labels)`);
  return buf.subarray(8);
}

async function writeSplit({ split, imagesFile, labelsFile, perClass, outDir }) {
  const images = readImages(imagesFile);
  const labels = readLabels(labelsFile);
  if (labels.length !== images.count) fail(`${imagesFile} has ${images.count} images but ${labelsFile} has ${labels.length} labels`);

  rmSync(outDir, { recursive: true, force: true });
  let files = 0;
  let bytes = 0;
  const perClassCounts = {};
  for (const { name, label } of CLASSES) {
    const classDir = join(outDir, name);
    mkdirSync(classDir, { recursive: true });
    let taken = 0;
    for (let i = 0; i < labels.length && taken < perClass; i++) {
      if (labels[i] !== label) continue;
      // toColourspace('b-w') is needed: without it sharp 0.35 writes 1-channel raw input as an RGB PNG.
      const png = await sharp(images.at(i), { raw: { width: SIDE, height: SIDE, channels: 1 } })
        .toColourspace('b-w')
        .png({ compressionLevel: 9 })
        .toBuffer();
      writeFileSync(join(classDir, `${split}-${String(i).padStart(5, '0')}.png`), png);
      taken++;
      bytes += png.length;
    }
    if (taken < perClass) fail(`${split}: only ${taken} images with label ${label} (${name}), wanted ${perClass}`);
    perClassCounts[name] = taken;
    files += taken;
  }
  console.log(
    `${relative(REPO_ROOT, outDir)}: ${files} files (${Object.entries(perClassCounts).map(([k, v]) => `${k} ${v}`).join(', ')}), ${bytes} bytes`,
  );
  return { files, bytes };
}

async function main() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        'per-class': { type: 'string' },
        'test-per-class': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    fail(err.message);
  }
  if (values.help) {
    console.log('usage: node scripts/make-sample-data.mjs [--per-class N (default 50)] [--test-per-class N (default 25)]');
    return;
  }
  const perClass = parseCount(values['per-class'], '--per-class', 50);
  const testPerClass = parseCount(values['test-per-class'], '--test-per-class', 25);

  // Check all inputs up front so a missing file never leaves a half-deleted tree.
  for (const f of ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) {
    if (!existsSync(join(SOURCE_DIR, f))) {
      fail(`missing ${join(SOURCE_DIR, f)}\nThe Fashion-MNIST IDX files come from Debian; install with: apt-get install dataset-fashion-mnist`);
    }
  }

  const train = await writeSplit({
    split: 'train',
    imagesFile: 'train-images-idx3-ubyte.gz',
    labelsFile: 'train-labels-idx1-ubyte.gz',
    perClass,
    outDir: join(SAMPLES_DIR, 'fashion-mnist'),
  });
  const test = await writeSplit({
    split: 'test',
    imagesFile: 't10k-images-idx3-ubyte.gz',
    labelsFile: 't10k-labels-idx1-ubyte.gz',
    perClass: testPerClass,
    outDir: join(SAMPLES_DIR, 'fashion-mnist-test'),
  });
  console.log(`total: ${train.files + test.files} files, ${train.bytes + test.bytes} bytes`);
}

await main();
