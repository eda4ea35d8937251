#!/usr/bin/env node
/**
 * Bounded load test of `finetune serve` (issue 6): the real CLI serves an export in a child process,
 * autocannon drives it with N concurrent clients for a few seconds, each request a :predict of one
 * image ([H, W, 3] pixel array, as TF Serving clients send tensors; --instance b64 sends the PNG for
 * the server to decode). Run three times: micro-batching (serve.maxBatchSize 16, the default inference
 * workers: one per core), one-by-one (maxBatchSize 1 and one worker: one image at a time, the goal's
 * baseline), and one image per batch in each default worker (what workers alone give).
 * Prints ONE JSON document on stdout (progress on stderr): requests/s, latency percentiles, the mean
 * batch size the server measured, and the throughput ratio (goal: micro-batching >= 2x at 16 clients).
 *
 * Without --model-base-path it trains a tiny export first (3 Fashion-MNIST sample classes x 12 images,
 * a few epochs) into a temporary folder, deleted afterwards. Takes about a minute.
 *
 * The input size decides what batching can win. Fashion-MNIST images are 28x28, so the tiny export
 * takes 32x32 by default: there a forward pass is dominated by per-call overhead that a batch shares.
 * At 96 or 224 the wasm backend (XNNPACK) already runs one image near its peak: measured here, 16
 * images in one pass are only ~1.1-1.5x faster per image than one at a time, which bounds any
 * server's batching gain (--image-size 224 measures that case).
 *
 *   npm run --silent load-test > load.json     # = npm run build && node scripts/load-test.js
 *   node scripts/load-test.js [--model-base-path DIR] [--connections 16] [--duration 5] [--warmup 1]
 *        [--image-size 32] [--max-batch-size 16] [--batch-timeout-ms 5] [--instance pixels|b64] [--inference-workers 0]
 */
'use strict';
const autocannon = require('autocannon');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { root, samples, trainTinyExport, startServer } = require('./serve-child');

const argv = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 && argv[at + 1] != null ? argv[at + 1] : fallback;
};
const connections = Number(flag('connections', 16));
const duration = Number(flag('duration', 5));
const warmup = Number(flag('warmup', 1));
const imageSize = Number(flag('image-size', 32));
const maxBatchSize = Number(flag('max-batch-size', 16));
const inferenceWorkers = Number(flag('inference-workers', 0));
const batchTimeoutMs = Number(flag('batch-timeout-ms', 5));
const instance = flag('instance', 'pixels');
const log = (message) => process.stderr.write(`${message}\n`);

/** The image as TF Serving clients usually send it: an [H, W, 3] array, decoded as training decodes. */
async function pixelArray(image, input) {
  require('reflect-metadata');
  const { SharpImageDecoder } = require(path.join(root, 'dist', 'src', 'preprocess', 'sharp-image-decoder'));
  const decoded = await new SharpImageDecoder().decode(image, { size: input.height, fit: input.resize.fit, maxInputPixels: 1e8 });
  return Array.from({ length: decoded.height }, (_, y) =>
    Array.from({ length: decoded.width }, (_, x) => Array.from(decoded.data.subarray((y * decoded.width + x) * 3, (y * decoded.width + x) * 3 + 3))),
  );
}

function metricValue(text, sample) {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

async function measure(basePath, body, batchSize, workers) {
  const batching = ['--max-batch-size', String(batchSize), '--batch-timeout-ms', String(batchTimeoutMs), '--max-instances', '4', '--inference-workers', String(workers)];
  const server = await startServer(basePath, batching);
  try {
    const target = {
      url: `${server.url}/v1/models/${server.model}:predict`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      connections,
    };
    if (warmup > 0) await autocannon({ ...target, duration: warmup });
    const before = await (await fetch(`${server.url}/metrics`)).text();
    const result = await autocannon({ ...target, duration });
    const after = await (await fetch(`${server.url}/metrics`)).text();
    const batches = metricValue(after, 'finetune_serve_batch_size_count') - metricValue(before, 'finetune_serve_batch_size_count');
    const images = metricValue(after, 'finetune_serve_batch_size_sum') - metricValue(before, 'finetune_serve_batch_size_sum');
    return {
      maxBatchSize: batchSize,
      inferenceWorkers: workers || `one per core (${Math.min(os.availableParallelism(), 4)})`,
      requestsPerSecond: result.requests.average,
      requests: result.requests.total,
      latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
      meanBatchSize: batches > 0 ? images / batches : 0,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
    };
  } finally {
    server.child.kill('SIGTERM');
    const code = await server.exited;
    if (code !== 0) log(`serve exited ${code}:\n${server.stderr()}`);
  }
}

async function main() {
  const given = flag('model-base-path', undefined);
  const work = given ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'finetune-load-test-'));
  try {
    const basePath = given ?? trainTinyExport(work, { imageSize, epochs: 4, name: 'load-test' });
    const label = fs.readdirSync(samples).sort()[0];
    const image = fs.readFileSync(path.join(samples, label, fs.readdirSync(path.join(samples, label)).sort()[0]));
    const metadata = JSON.parse(fs.readFileSync(path.join(basePath, String(Math.max(...fs.readdirSync(basePath).filter((d) => /^\d+$/.test(d)).map(Number))), 'metadata.json'), 'utf8'));
    const body = JSON.stringify({ instances: [instance === 'b64' ? { b64: image.toString('base64') } : await pixelArray(image, metadata.input)] });
    log(`micro-batching (max batch ${maxBatchSize}, the server's default inference workers): ${connections} clients for ${duration} s`);
    const microBatching = await measure(basePath, body, maxBatchSize, inferenceWorkers);
    log(`  ${microBatching.requestsPerSecond.toFixed(1)} req/s, p99 ${microBatching.latencyMs.p99} ms, mean batch ${microBatching.meanBatchSize.toFixed(1)}`);
    log(`one-by-one (max batch 1, one inference worker: one image at a time): ${connections} clients for ${duration} s`);
    const oneByOne = await measure(basePath, body, 1, 1);
    log(`  ${oneByOne.requestsPerSecond.toFixed(1)} req/s, p99 ${oneByOne.latencyMs.p99} ms`);
    log(`one image per batch in each of the default inference workers: ${connections} clients for ${duration} s`);
    const oneByOnePerWorker = await measure(basePath, body, 1, inferenceWorkers);
    log(`  ${oneByOnePerWorker.requestsPerSecond.toFixed(1)} req/s, p99 ${oneByOnePerWorker.latencyMs.p99} ms`);
    const ratio = microBatching.requestsPerSecond / oneByOne.requestsPerSecond;
    const report = {
      model: { basePath: given ?? '(tiny export trained for this run)', input: [metadata.input.height, metadata.input.width, 3], cutLayer: metadata.plan.cutLayer, backend: metadata.backend.name },
      request:
        instance === 'b64'
          ? ':predict, one image per request: {"b64": a 28x28 Fashion-MNIST PNG}, decoded and resized by the server'
          : `:predict, one image per request: a [${metadata.input.height}, ${metadata.input.width}, 3] pixel array (a Fashion-MNIST sample resized as training does)`,
      connections,
      durationSeconds: duration,
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadAverage: os.loadavg() },
      microBatching,
      oneByOne,
      oneByOnePerWorker,
      throughputRatio: ratio,
      throughputRatioPerWorker: microBatching.requestsPerSecond / oneByOnePerWorker.requestsPerSecond,
      goal: 'micro-batching >= 2x the throughput of one-by-one at 16 clients',
      goalMet: ratio >= 2,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
