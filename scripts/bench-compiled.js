#!/usr/bin/env node
/**
 * The benchmark of issue 13: the frozen network compiled (src/features/compile-layers-model.ts) beside
 * the LayersModel run op by op (runtime.compiledForward false), in one run, on the same images, with
 * the same workers, the two paths interleaved A/B/B/A... so that a machine shared with other processes
 * slows both alike. Prints ONE JSON document on stdout (progress on stderr):
 *
 *   frozen     frozen-part img/s at 224 (whole network: out_relu; default cut: block_13_expand_relu),
 *              two wasm worker threads per path (FrozenWorkerPool, as `train` extracts), the same
 *              decoded photos (the repository's Fashion-MNIST sample, resized to 224 as training does)
 *   fineTune   a fine-tuning step (top 4 blocks + head, batch 32, as bench.js measures it; the trainable
 *              blocks keep their layers in both modes) and the head phase's pass through the still
 *              frozen top blocks (pooledThrough in train-classifier.ts), layers vs compiled
 *   serve      `finetune serve` req/s at 224 (16 clients, a fixed number of requests, one image per :predict request, server
 *              defaults: micro-batching, one inference worker per core), --compiled-forward false vs true
 *   profile    tf.profile kernel milliseconds of one forward pass (8 images, whole network, main thread)
 *
 *   node scripts/bench-compiled.js [--rounds 3] [--images 48] [--serve-requests 64] [--only frozen,fineTune,serve,profile]
 */
'use strict';
require('reflect-metadata');
const autocannon = require('autocannon');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer } = require('./serve-child');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist', 'src');
const cli = path.join(root, 'bin', 'finetune.js');
const samples = path.join(root, 'models', 'samples', 'fashion-mnist');
const SIZE = 224;
const argv = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 && argv[at + 1] != null ? argv[at + 1] : fallback;
};
const rounds = Number(flag('rounds', 3));
const imageCount = Number(flag('images', 48));
const serveRequests = Number(flag('serve-requests', 64));
const sections = flag('only', 'frozen,fineTune,serve,profile').split(',');
const log = (message) => process.stderr.write(`[bench-compiled] ${message}\n`);
const round = (v, digits = 2) => (v == null || !Number.isFinite(v) ? null : Number(v.toFixed(digits)));
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = (sorted.length - 1) / 2;
  return (sorted[Math.floor(mid)] + sorted[Math.ceil(mid)]) / 2;
};
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FINETUNE_') && name !== 'NODE_ENV'));

function sampleFiles(count) {
  const labels = fs.readdirSync(samples).filter((d) => fs.statSync(path.join(samples, d)).isDirectory()).sort();
  const perLabel = labels.map((label) => fs.readdirSync(path.join(samples, label)).sort().map((f) => path.join(samples, label, f)));
  const files = [];
  for (let i = 0; files.length < count && i < 1000; i++) for (const list of perLabel) if (list[i] && files.length < count) files.push(list[i]);
  return files;
}

async function decodedPixels(count) {
  const { SharpImageDecoder } = require(path.join(dist, 'preprocess', 'sharp-image-decoder'));
  const decoder = new SharpImageDecoder();
  const files = sampleFiles(count);
  const flat = new Uint8Array(files.length * SIZE * SIZE * 3);
  for (const [i, file] of files.entries()) flat.set((await decoder.decode(fs.readFileSync(file), { size: SIZE, fit: 'cover', maxInputPixels: 1e8 })).data, i * SIZE * SIZE * 3);
  return { flat, count: files.length };
}

/** Modes in the order of round r: A/B, then B/A, so neither path always runs first. */
const orderOf = (r) => (r % 2 === 0 ? ['layers', 'compiled'] : ['compiled', 'layers']);

function summarize(samplesByMode, unit) {
  const layers = median(samplesByMode.layers);
  const compiled = median(samplesByMode.compiled);
  // Each round's two measurements ran back to back: their ratio is the least disturbed by other processes.
  const paired = samplesByMode.compiled.map((v, i) => v / samplesByMode.layers[i]);
  return {
    unit,
    layers: samplesByMode.layers.map((v) => round(v)),
    compiled: samplesByMode.compiled.map((v) => round(v)),
    median_layers: round(layers),
    median_compiled: round(compiled),
    ratio: round(compiled / layers),
    round_ratios: paired.map((v) => round(v)),
    median_round_ratio: round(median(paired)),
  };
}

/** All batches of 16 images through a pool's workers, each worker taking the next batch when free. */
async function throughPool(pool, pixels, batch = 16) {
  const perImage = SIZE * SIZE * 3;
  const batches = [];
  for (let start = 0; start < pixels.count; start += batch) batches.push([start, Math.min(batch, pixels.count - start)]);
  const started = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: pool.size }, async (_, worker) => {
      while (next < batches.length) {
        const [start, count] = batches[next++];
        await pool.run(worker, pixels.flat.slice(start * perImage, (start + count) * perImage), count, SIZE);
      }
    }),
  );
  return pixels.count / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function benchFrozen(base, pixels) {
  const { createFrozenRunner } = require(path.join(dist, 'features', 'frozen-runner'));
  const { FrozenWorkerPool } = require(path.join(dist, 'features', 'frozen-worker-pool'));
  const result = {};
  for (const [name, cut] of [['whole_network', 'out_relu'], ['default_cut', 'block_13_expand_relu']]) {
    const pools = {};
    try {
      for (const mode of ['layers', 'compiled']) {
        const runner = createFrozenRunner(base, cut, SIZE, { compiled: mode === 'compiled' });
        pools[mode] = await FrozenWorkerPool.start(await runner.spec(), { workers: 2, backend: 'wasm' });
        await throughPool(pools[mode], { flat: pixels.flat.subarray(0, 2 * SIZE * SIZE * 3), count: 2 }, 1); // warm-up
      }
      const measured = { layers: [], compiled: [] };
      for (let r = 0; r < rounds; r++) {
        for (const mode of orderOf(r)) {
          measured[mode].push(await throughPool(pools[mode], pixels));
          log(`frozen ${cut} ${mode}: ${measured[mode].at(-1).toFixed(1)} img/s (load ${os.loadavg()[0].toFixed(1)})`);
        }
      }
      result[name] = { cut, ...summarize(measured, 'img/s, 2 wasm worker threads, batches of 16') };
    } finally {
      await Promise.all(Object.values(pools).map((pool) => pool.terminate()));
    }
  }
  return result;
}

async function benchFineTune(tf, base) {
  const { segmentBetween } = require(path.join(dist, 'models', 'network-surgery'));
  const { buildHead } = require(path.join(dist, 'train', 'head'));
  const { fineTuneNetwork } = require(path.join(dist, 'train', 'fine-tune'));
  const { crossEntropy } = require(path.join(dist, 'train', 'loss'));
  const { seededRandom } = require(path.join(dist, 'train', 'seeded-random'));
  const { layersForward } = require(path.join(dist, 'features', 'frozen-forward'));
  const segment = segmentBetween(base.network.model, 'block_12_add', 'out_relu', [14, 14, 96]);
  const head = buildHead({ numFeatures: 1280, numClasses: 10, dropout: 0.2, seed: 42 });
  const network = fineTuneNetwork({ segment, head, baseRateMultiplier: 0.1, trainBatchNorm: false });
  const random = seededRandom(42);
  const optimizers = network.groups.map((group) => tf.train.adam(0.001 * group.rateMultiplier));
  const variables = network.groups.flatMap((group) => group.variables);
  const x = tf.randomNormal([32, 14, 14, 96], 0, 1, 'float32', 2);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 10), 'int32'), 10);
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => crossEntropy(network.forwardTraining(x, random), y), variables);
      network.groups.forEach((group, g) => optimizers[g].applyGradients(group.variables.map((v) => ({ name: v.name, tensor: grads[v.name] }))));
      return value.dataSync()[0];
    });
  const timed = (f) => {
    const started = process.hrtime.bigint();
    f();
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  step(); // warm-up
  // The head phase reads the pooled output of the top blocks before they change: frozen there, and
  // compiled once for the whole dataset (train-classifier.ts), so compiling is timed apart.
  const forwards = { layers: layersForward(segment, false), compiled: layersForward(segment, true) };
  const pass = (mode) => tf.tidy(() => tf.mean(forwards[mode].run(x), [1, 2]).dataSync());
  pass('layers');
  const compileSeconds = timed(() => pass('compiled'));
  const frozenPass = (compiled) => 32 / timed(() => pass(compiled ? 'compiled' : 'layers'));
  const steps = { layers: [], compiled: [] };
  const headPhase = { layers: [], compiled: [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of orderOf(r)) {
      // Training steps are the same code in both modes (trainable blocks keep their layers and gradients).
      steps[mode].push(32 / timed(step));
      headPhase[mode].push(frozenPass(mode === 'compiled'));
      log(`fine-tune ${mode}: step ${steps[mode].at(-1).toFixed(1)} img/s, head-phase pass ${headPhase[mode].at(-1).toFixed(1)} img/s`);
    }
  }
  tf.dispose([x, y]);
  forwards.compiled.dispose();
  return {
    head_phase_compile_and_first_pass_s: round(compileSeconds),
    training_step: summarize(steps, 'img/s, one Adam step of block_12_add..out_relu + head, batch 32, main thread'),
    head_phase_frozen_pass: summarize(headPhase, 'img/s, block_12_add..out_relu forward on cached [14, 14, 96] activations, batch 32, main thread'),
  };
}

async function benchProfile(tf, base) {
  const { buildFrozenPart } = require(path.join(dist, 'models', 'frozen-part'));
  const { compileLayersModel } = require(path.join(dist, 'features', 'compile-layers-model'));
  const model = buildFrozenPart(base, 'out_relu', SIZE);
  const compiled = compileLayersModel(model);
  const x = tf.randomUniform([8, SIZE, SIZE, 3], 0, 255, 'float32', 1);
  const result = { summary: compiled.summary };
  for (const [mode, f] of [['layers', () => model.predict(x)], ['compiled', () => compiled.run(x)]]) {
    tf.tidy(() => f().dataSync()); // warm-up
    const profile = await tf.profile(() => tf.tidy(() => f().dataSync()));
    // Kernels only: op wrappers (names ending in __op) would count their kernels twice.
    const kernels = {};
    for (const k of profile.kernels) if (!k.name.endsWith('__op')) kernels[k.name] = (kernels[k.name] ?? 0) + k.kernelTimeMs;
    const sorted = Object.fromEntries(Object.entries(kernels).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(v, 0)]));
    result[mode] = { kernel_ms: sorted, total_kernel_ms: round(Object.values(kernels).reduce((a, b) => a + b, 0), 0), kernel_calls: profile.kernels.filter((k) => !k.name.endsWith('__op')).length };
  }
  result.total_kernel_ratio = round(result.layers.total_kernel_ms / result.compiled.total_kernel_ms);
  compiled.dispose();
  x.dispose();
  return result;
}

/**
 * `amount` requests through autocannon, timed from the start to the last response. autocannon itself
 * ends such a run only at its next one-second sample tick, so timing the whole call rounds every run up
 * to whole seconds (64 requests in 2.1 s would read as 3 s: 21.3 instead of 30 req/s).
 */
async function timedRequests(target, amount) {
  const started = process.hrtime.bigint();
  let last = started;
  const run = autocannon({ ...target, amount });
  run.on('response', () => (last = process.hrtime.bigint()));
  const result = await run;
  return { result, seconds: Number(last - started) / 1e9 };
}

function trainExport(work) {
  const data = path.join(work, 'data');
  for (const label of fs.readdirSync(samples).sort().slice(0, 3)) {
    fs.mkdirSync(path.join(data, label), { recursive: true });
    for (const file of fs.readdirSync(path.join(samples, label)).sort().slice(0, 8)) fs.copyFileSync(path.join(samples, label, file), path.join(data, label, file));
  }
  log(`serve: training an export at ${SIZE}x${SIZE} (3 classes x 8 images, head on the default cut)`);
  const args = ['train', '--data', data, '--env', 'test', '--image-size', String(SIZE), '--epochs', '2', '--policy', 'head', '--name', 'bench'];
  args.push('--out', path.join(work, 'exports'), '--cache-dir', path.join(work, 'cache'), '--runs-dir', path.join(work, 'runs'), '--json');
  const run = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (run.status !== 0) throw new Error(`train exited ${run.status}`);
  return path.dirname(JSON.parse(run.stdout).exportDir);
}

async function benchServe(pixels) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'finetune-bench-compiled-'));
  try {
    const basePath = trainExport(work);
    const image = Array.from({ length: SIZE }, (_, y) => Array.from({ length: SIZE }, (_, x) => Array.from(pixels.flat.subarray((y * SIZE + x) * 3, (y * SIZE + x) * 3 + 3))));
    const body = JSON.stringify({ instances: [image] });
    const measured = { layers: [], compiled: [] };
    const latency = { layers: [], compiled: [] };
    for (let r = 0; r < Math.max(2, rounds - 1); r++) {
      for (const mode of orderOf(r)) {
        const server = await startServer(basePath, ['--compiled-forward', String(mode === 'compiled')]);
        try {
          const target = { url: `${server.url}/v1/models/${server.model}:predict`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 16, timeout: 120 };
          // A fixed number of requests, not a fixed time: on a loaded machine one batch of 16 at 224 can take
          // longer than any short window. The warm-up compiles and runs a first batch in each worker.
          await autocannon({ ...target, amount: 32 });
          const { result, seconds } = await timedRequests(target, serveRequests);
          if (result.non2xx > 0 || result.errors > 0 || result.requests.total === 0) {
            throw new Error(`serve answered ${result.requests.total} requests, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
          }
          measured[mode].push(result.requests.total / seconds);
          latency[mode].push(result.latency.p50);
          log(`serve ${mode}: ${measured[mode].at(-1).toFixed(1)} req/s, p50 ${result.latency.p50} ms (load ${os.loadavg()[0].toFixed(1)})`);
        } finally {
          server.child.kill('SIGTERM');
          await server.exited;
        }
      }
    }
    return { ...summarize(measured, `req/s, 16 clients, one [${SIZE}, ${SIZE}, 3] pixel array per :predict, ${serveRequests} requests each, server defaults`), p50_latency_ms: latency };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main() {
  if (!fs.existsSync(path.join(dist, 'features', 'compile-layers-model.js'))) throw new Error('dist/ is missing: run npm run build first');
  const tf = require('@tensorflow/tfjs');
  require('@tensorflow/tfjs-backend-wasm');
  const { chooseBackend } = require(path.join(dist, 'backend', 'choose-backend'));
  await chooseBackend('wasm');
  const { NsfwjsMobileNetSource } = require(path.join(dist, 'models', 'nsfwjs-mobilenet-source'));
  const base = await new NsfwjsMobileNetSource().load('mobilenet_v2');
  const pixels = await decodedPixels(imageCount);
  const started = Date.now();
  const doc = {
    benchmark: 'finetune issue 13: compiled frozen forward vs LayersModel op by op, interleaved in one run',
    measured_at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, node: process.version, load_average_1m_before: round(os.loadavg()[0]) },
    notes: [
      'The two paths alternate round by round (A/B, B/A, ...): other processes on a shared machine slow both alike, so the ratios hold while absolute figures are depressed.',
      `rounds: ${rounds}; images: ${pixels.count} Fashion-MNIST sample photos (models/samples), decoded to ${SIZE}x${SIZE}; backend wasm`,
    ],
  };
  const section = async (name, measure) => {
    try {
      doc[name] = await measure();
    } catch (error) {
      // The other sections still count: report the failure in place of this one.
      doc[name] = { failed: String(error.message ?? error) };
      log(`${name} failed: ${error.stack ?? error}`);
    }
  };
  try {
    if (sections.includes('profile')) await section('profile', () => benchProfile(tf, base));
    if (sections.includes('frozen')) await section('frozen', () => benchFrozen(base, pixels));
    if (sections.includes('fineTune')) await section('fineTune', () => benchFineTune(tf, base));
    if (sections.includes('serve')) await section('serve', () => benchServe(pixels));
  } finally {
    base.dispose();
  }
  doc.total_wall_s = round((Date.now() - started) / 1000, 1);
  doc.machine.load_average_1m_after = round(os.loadavg()[0]);
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
