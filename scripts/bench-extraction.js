#!/usr/bin/env node
/**
 * Frozen-part extraction throughput, measured in one run on this machine: the default base at
 * 224x224, cut at block_13_expand_relu and at out_relu (the whole feature extractor), in this
 * thread (workers: 1) beside 2 worker threads, on the same JPEGs (500x375, upscaled from the
 * embedded samples), decoding included, nothing cached. Each measurement runs in a fresh child
 * process (cold start, as in `train`, and its own peak RSS); the modes alternate, and with
 * --repeat n each is measured n times and the median reported. Prints one JSON document.
 * Needs `npm run build` first.
 *
 *   node scripts/bench-extraction.js [--images 64] [--batch-size 32] [--workers 2] [--repeat 1]
 */
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createHash } = require('node:crypto');

const dist = path.join(__dirname, '..', 'dist', 'src');
const size = 224;
const cuts = ['block_13_expand_relu', 'out_relu'];

function flag(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
}

/** Child: one extraction, reported as JSON on stdout. */
async function child() {
  const tf = require('@tensorflow/tfjs');
  require('@tensorflow/tfjs-backend-wasm');
  const { NsfwjsMobileNetSource } = require(path.join(dist, 'models', 'nsfwjs-mobilenet-source'));
  const { createFrozenRunner } = require(path.join(dist, 'features', 'frozen-runner'));
  const { extractFeatures } = require(path.join(dist, 'features', 'extract-features'));
  const { SharpImageDecoder } = require(path.join(dist, 'preprocess', 'sharp-image-decoder'));
  const dir = flag('dir');
  const cut = flag('cut');
  const workers = Number(flag('workers-now'));
  const batchSize = Number(flag('batch-size', '32'));
  await tf.setBackend('wasm');
  const images = fs
    .readdirSync(dir)
    .sort()
    .map((file) => path.join(dir, file))
    .map((file) => ({ path: file, sha256: createHash('sha256').update(fs.readFileSync(file)).digest('hex') }));
  const base = await new NsfwjsMobileNetSource().load('mobilenet_v2');
  const runner = createFrozenRunner(base, cut, size);
  const decoder = new SharpImageDecoder();
  const decode = { size, fit: 'cover', maxInputPixels: 100_000_000 };
  const map = new Map();
  const cpuBefore = process.cpuUsage();
  const result = await extractFeatures(runner, images, {
    decoder,
    decode,
    concurrency: 8,
    batchSize,
    cache: { get: (k) => map.get(k), set: (k, v) => void map.set(k, v), has: (k) => map.has(k) },
    keyParts: { baseSha256: base.sha256, cutLayer: cut, preprocessing: decoder.describe(decode) },
    logger: { info() {}, warn() {} },
    workers,
  });
  const cpu = process.cpuUsage(cpuBefore);
  const hash = createHash('sha256');
  for (const f of result.features) hash.update(Buffer.from(f.buffer, f.byteOffset, f.byteLength));
  process.stdout.write(
    JSON.stringify({
      seconds: result.seconds,
      workerStartSeconds: result.workerStartSeconds ?? 0,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      featureWidth: result.featureShape?.[0],
      featuresSha256: hash.digest('hex'),
    }),
  );
}

async function makeImages(dir, count) {
  const sharp = require('sharp');
  const samples = path.join(__dirname, '..', 'models', 'samples', 'fashion-mnist');
  const sources = fs
    .readdirSync(samples)
    .sort()
    .flatMap((label) => fs.readdirSync(path.join(samples, label)).sort().map((f) => path.join(samples, label, f)));
  for (let i = 0; i < count; i++) {
    // Different images at a photo-like size, so that decoding costs about what it costs on photos.
    await sharp(sources[(i * 37) % sources.length])
      .resize(500, 375, { fit: 'fill' })
      .toColourspace('srgb')
      .jpeg({ quality: 90 })
      .toFile(path.join(dir, `img${String(i).padStart(3, '0')}.jpg`));
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
const round = (value, digits = 2) => Number(value.toFixed(digits));

async function main() {
  const imageCount = Number(flag('images', '64'));
  const batchSize = Number(flag('batch-size', '32'));
  const workerCount = Number(flag('workers', '2'));
  const repeat = Number(flag('repeat', '1'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-extraction-'));
  try {
    await makeImages(dir, imageCount);
    const measure = (cut, workers) =>
      JSON.parse(
        execFileSync(process.execPath, [__filename, '--child', '--dir', dir, '--cut', cut, '--workers-now', String(workers), '--batch-size', String(batchSize)], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        }),
      );
    const loadBefore = os.loadavg();
    const results = {};
    for (const cut of cuts) {
      const runs = { 1: [], [workerCount]: [] };
      for (let r = 0; r < repeat; r++) for (const workers of [1, workerCount]) runs[workers].push(measure(cut, workers));
      const pick = (workers) => {
        const list = runs[workers];
        const seconds = median(list.map((run) => run.seconds));
        return { run: list.find((run) => run.seconds === seconds), all: list.map((run) => round(imageCount / run.seconds)) };
      };
      const single = pick(1);
      const parallel = pick(workerCount);
      const steady = parallel.run.seconds - parallel.run.workerStartSeconds;
      const hashes = new Set([...runs[1], ...runs[workerCount]].map((run) => run.featuresSha256));
      results[cut] = {
        feature_width: single.run.featureWidth,
        in_process_img_per_s: round(imageCount / single.run.seconds),
        workers_img_per_s: round(imageCount / parallel.run.seconds),
        ratio: round(single.run.seconds / parallel.run.seconds, 3),
        workers_start_s: round(parallel.run.workerStartSeconds),
        workers_img_per_s_after_start: round(imageCount / steady),
        ratio_after_start: round(single.run.seconds / steady, 3),
        in_process_cpu_s: round(single.run.cpuSeconds),
        workers_cpu_s: round(parallel.run.cpuSeconds),
        in_process_peak_rss_mb: Math.round(single.run.maxRssMb),
        workers_peak_rss_mb: Math.round(parallel.run.maxRssMb),
        features_identical: hashes.size === 1,
        ...(repeat > 1 ? { in_process_img_per_s_runs: single.all, workers_img_per_s_runs: parallel.all } : {}),
      };
    }
    const doc = {
      benchmark: 'frozen-part extraction: sharp decode + forward + pooling, nothing cached, one fresh process per measurement',
      backend: 'wasm',
      base: 'mobilenet_v2',
      image_size: size,
      images: imageCount,
      image_source: '500x375 JPEGs upscaled from models/samples/fashion-mnist',
      batch_size: batchSize,
      workers: workerCount,
      repeat,
      cores: os.cpus().length,
      node: process.version,
      load_average_before: loadBefore.map((l) => round(l)),
      load_average_after: os.loadavg().map((l) => round(l)),
      results,
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

(process.argv.includes('--child') ? child() : main()).catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
