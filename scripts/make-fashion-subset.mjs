#!/usr/bin/env node
// A random Fashion-MNIST subset for measuring accuracy on data the tool never saw:
//   node scripts/make-fashion-subset.mjs OUT [--classes all|name,name,...] [--per-class N] [--test-per-class M] [--seed S]
// Writes OUT/train/<class>/*.png (train with --data OUT/train) and OUT/test/<class>/*.png (score with
// evaluate --data OUT/test). Images are drawn at random (seeded) from Debian's dataset-fashion-mnist:
// training images from its train file, test images from its t10k file, so the two never overlap.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';

const SOURCE_DIR = '/usr/share/datasets/fashion-mnist';
const NAMES = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'];
const SIDE = 28;

function fail(message) {
  console.error(`make-fashion-subset: ${message}`);
  process.exit(2);
}

function readGz(file) {
  const path = join(SOURCE_DIR, file);
  if (!existsSync(path)) fail(`missing ${path}; install it with: apt-get install dataset-fashion-mnist`);
  return gunzipSync(readFileSync(path));
}

/** mulberry32: a small seeded generator, so a seed always draws the same subset. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function writeSplit(prefix, outDir, classes, perClass, next) {
  const images = readGz(`${prefix}-images-idx3-ubyte.gz`);
  const labels = readGz(`${prefix}-labels-idx1-ubyte.gz`).subarray(8);
  for (const label of classes) {
    const indices = [];
    labels.forEach((l, i) => l === label && indices.push(i));
    for (let i = indices.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [indices[i], indices[j]] = [indices[j], indices[i]];
    }
    if (indices.length < perClass) fail(`only ${indices.length} ${NAMES[label]} images in ${prefix}, asked for ${perClass}`);
    const dir = join(outDir, NAMES[label]);
    mkdirSync(dir, { recursive: true });
    for (const index of indices.slice(0, perClass)) {
      const pixels = images.subarray(16 + index * SIDE * SIDE, 16 + (index + 1) * SIDE * SIDE);
      const png = await sharp(pixels, { raw: { width: SIDE, height: SIDE, channels: 1 } }).toColourspace('b-w').png().toBuffer();
      writeFileSync(join(dir, `${prefix}-${String(index).padStart(5, '0')}.png`), png);
    }
  }
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    classes: { type: 'string', default: 'all' },
    'per-class': { type: 'string', default: '50' },
    'test-per-class': { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
  },
});
const out = positionals[0];
if (!out) fail('usage: node scripts/make-fashion-subset.mjs OUT [--classes all|name,...] [--per-class N] [--test-per-class M] [--seed S]');
const classes = values.classes === 'all' ? NAMES.map((_, i) => i) : values.classes.split(',').map((name) => {
  const index = NAMES.indexOf(name);
  if (index < 0) fail(`unknown class "${name}"; expected one of ${NAMES.join(', ')}`);
  return index;
});
const next = random(Number(values.seed));
rmSync(out, { recursive: true, force: true });
await writeSplit('train', join(out, 'train'), classes, Number(values['per-class']), next);
await writeSplit('t10k', join(out, 'test'), classes, Number(values['test-per-class']), next);
console.log(`${out}: ${classes.length} classes, ${values['per-class']} train and ${values['test-per-class']} test images each (seed ${values.seed})`);
