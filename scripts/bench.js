#!/usr/bin/env node
/**
 * The benchmark of issue 3, measured in one run on this machine: prints ONE JSON document on stdout
 * (progress on stderr) for the default base (mobilenet_v2, nsfwjs' Keras MobileNetV2) at 224x224:
 *
 *   frozenPart  frozen-part throughput (sharp decode + forward + pooling, cut block_13_expand_relu, nothing
 *               cached) on wasm in this thread, wasm with 2 worker threads and tfjs cpu with our kernels,
 *               each beside the untouched stock tfjs cpu backend measured in the same run.
 *   fineTune    training steps of the top 4 blocks + head (block_12_add -> out_relu -> pooled -> softmax,
 *               batch 32, Adam, batch norm in inference mode) on cached-activation-shaped inputs
 *               [32, 14, 14, 96], on wasm and cpu with our training kernels and on untouched stock cpu.
 *   endToEnd    the real CLI (`node bin/finetune.js train --json`, --policy top and the configured default
 *               policy, NODE_ENV=development as for a user who sets nothing) beside the naive
 *               baseline of the tfjs tutorials (truncated MobileNet + dense head as ONE LayersModel, base
 *               layers trainable = false, model.fit on decoded 224x224 images, so the frozen base runs
 *               forward every epoch with batch norm in training mode) on the same backend (wasm), images,
 *               split and epochs; wall times, ratios and accuracies (validation, and unseen images through
 *               `finetune evaluate`); a second `train` on the same data and cache. Data: 10 classes x 20
 *               Fashion-MNIST images (16 train / 4 val each) + 10 x 10 unseen; 8 epochs. The naive model
 *               trains at batch 8: at batch 16 and 32 its gradient tape exhausts the wasm heap (--naive-probe
 *               measures batch 32, ~40 s; on by default with --large).
 *   compiled    (issue 13) scripts/bench-compiled.js in a child: the compiled frozen forward beside the LayersModel
 *               op by op, interleaved: frozen img/s at 224 (whole network, default cut), fine-tuning, serve req/s.
 *   memory      (only with --large) peak RSS and timings of `train` (the configured default policy, or
 *               --large-policy P) on 5,000 PNGs (10 classes x 500, Fashion-MNIST). Extraction alone takes 2.5-6
 *               minutes; a fine-tuning policy (--large-policy top|deep, or auto, which picks one for a dataset
 *               this large) adds ~4,000 images x train.fineTuneEpochs at ~20 img/s: 40+ minutes.
 *
 * Every measurement runs in a fresh child process, so each backend is either touched by our kernels
 * (src/backend/choose-backend.ts) or entirely stock (tf.setBackend('cpu') without ever registering the
 * training kernels or the FusedBatchNorm gradient; the child checks both are still the stock ones).
 * Images come from Debian's Fashion-MNIST (/usr/share/datasets/fashion-mnist), written to a temp dir
 * (deleted afterwards). The default run takes about 8 minutes on 2 idle cores (--large: about 11).
 *
 *   npm run --silent bench > bench.json   # = npm run build && node scripts/bench.js (--silent: no npm banner on stdout)
 *   node scripts/bench.js [--large] [--only frozenPart,fineTune,endToEnd,compiled,memory]
 *        [--per-class 20] [--test-per-class 10] [--epochs 8] [--naive-batch 8] [--wasm-images 192]
 *        [--cpu-images 4] [--large-per-class 500] [--large-policy P] [--naive-probe] [--keep]
 */
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { createHash } = require('node:crypto');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist', 'src');
const cli = path.join(root, 'bin', 'finetune.js');
const SIZE = 224;
const CUT = 'block_13_expand_relu'; // the default base's recommended cut (frozenPart; the naive model uses the cut of our default run)
const FT_FROM = 'block_12_add'; // below the top 4 blocks (policy top)
const FT_UNTIL = 'out_relu';
const FT_SHAPE = [14, 14, 96];
const FASHION = '/usr/share/datasets/fashion-mnist';
const CLASSES = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'];

const argv = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 && argv[at + 1] != null ? argv[at + 1] : fallback;
};
const num = (name, fallback) => Number(flag(name, String(fallback)));
const round = (v, digits = 2) => (v == null || !Number.isFinite(v) ? null : Number(v.toFixed(digits)));
const log = (message) => process.stderr.write(`[bench] ${message}\n`);
const maxRssMb = () => round(process.resourceUsage().maxRSS / 1024, 0);

// ---------------------------------------------------------------------------------------------------
// Children (one measurement each, one JSON line on stdout)
// ---------------------------------------------------------------------------------------------------

/**
 * tfjs with either our kernels (chooseBackend) or nothing of ours registered (stock). For stock, the
 * registry's Conv2DBackpropFilter and the FusedBatchNorm gradient are checked to be those tfjs registered.
 */
async function setUpBackend(mode) {
  const tf = require('@tensorflow/tfjs');
  require('@tensorflow/tfjs-backend-wasm');
  const stockGradient = tf.getGradient('FusedBatchNorm');
  const stockFilterKernel = tf.getKernel('Conv2DBackpropFilter', 'cpu');
  let backend;
  if (mode === 'cpu-stock') {
    if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend failed');
    backend = { name: 'cpu', kernels: 'stock tfjs (nothing of ours registered)' };
  } else if (mode === 'wasm-stock') {
    if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed');
    backend = { name: 'wasm', kernels: 'stock tfjs (nothing of ours registered)' };
  } else {
    const { chooseBackend } = require(path.join(dist, 'backend', 'choose-backend'));
    const choice = await chooseBackend(mode);
    backend = { name: choice.name, kernels: 'ours (registerTrainingKernels + FusedBatchNorm gradient)' };
  }
  if (mode.endsWith('-stock')) {
    const { trainingKernelsRegistered } = require(path.join(dist, 'backend', 'training-kernels'));
    const untouched =
      tf.getGradient('FusedBatchNorm') === stockGradient &&
      tf.getKernel('Conv2DBackpropFilter', 'cpu') === stockFilterKernel &&
      !trainingKernelsRegistered('cpu') &&
      !trainingKernelsRegistered('wasm');
    if (!untouched) throw new Error('stock backend requested but our kernels or gradients are registered');
    backend.verified_untouched = true;
  }
  if (tf.getBackend() !== backend.name) throw new Error(`backend is ${tf.getBackend()}, wanted ${backend.name}`);
  return { tf, backend };
}

function listImages(dir) {
  const out = [];
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Frozen-part throughput: extractFeatures() as `train` runs it (decode included, nothing cached). */
async function childFrozen() {
  const { tf, backend } = await setUpBackend(flag('backend'));
  const { NsfwjsMobileNetSource } = require(path.join(dist, 'models', 'nsfwjs-mobilenet-source'));
  const { createFrozenRunner } = require(path.join(dist, 'features', 'frozen-runner'));
  const { extractFeatures } = require(path.join(dist, 'features', 'extract-features'));
  const { SharpImageDecoder } = require(path.join(dist, 'preprocess', 'sharp-image-decoder'));
  const workers = num('workers', 1);
  const files = listImages(flag('dir')).slice(0, num('images', 8));
  const images = files.map((file) => ({ path: file, sha256: createHash('sha256').update(fs.readFileSync(file)).digest('hex') }));
  const loadStarted = Date.now();
  const base = await new NsfwjsMobileNetSource().load('mobilenet_v2');
  const runner = createFrozenRunner(base, CUT, SIZE);
  const loadSeconds = (Date.now() - loadStarted) / 1000;
  const decoder = new SharpImageDecoder();
  const decode = { size: SIZE, fit: 'cover', maxInputPixels: 100_000_000 };
  const map = new Map();
  const cache = { get: (k) => map.get(k), set: (k, v) => void map.set(k, v), has: (k) => map.has(k), prune: () => ({ removed: 0, bytes: 0 }) };
  const cpuBefore = process.cpuUsage();
  const result = await extractFeatures(runner, images, {
    decoder,
    decode,
    concurrency: 8,
    batchSize: 32,
    cache,
    keyParts: { baseSha256: base.sha256, cutLayer: CUT, preprocessing: decoder.describe(decode) },
    logger: { info: (m) => process.stderr.write(`${m}\n`), warn: (m) => process.stderr.write(`${m}\n`) },
    workers,
  });
  const cpu = process.cpuUsage(cpuBefore);
  const hash = createHash('sha256');
  for (const f of result.features) hash.update(Buffer.from(f.buffer, f.byteOffset, f.byteLength));
  process.stdout.write(
    `${JSON.stringify({
      backend,
      tfjs: tf.version.tfjs,
      images: images.length,
      workers: result.workers,
      load_s: loadSeconds,
      seconds: result.seconds,
      worker_start_s: result.workerStartSeconds ?? 0,
      cpu_s: (cpu.user + cpu.system) / 1e6,
      feature_width: result.featureShape?.[0],
      features_sha256: hash.digest('hex'),
      peak_rss_mb: maxRssMb(),
    })}\n`,
  );
}

/**
 * Fine-tuning steps as src/pipeline/train-classifier.ts builds them: segmentBetween(block_12_add, out_relu),
 * buildHead, fineTuneNetwork, one step = tf.variableGrads(crossEntropy) + Adam applyGradients per group.
 * Inputs have the shape of cached block_12_add activations (values drawn N(0, 1): kernel cost does not
 * depend on the values). Warm-up steps first, then steps until --steps or --budget-s is reached.
 */
async function childFineTune() {
  const { tf, backend } = await setUpBackend(flag('backend'));
  const { NsfwjsMobileNetSource } = require(path.join(dist, 'models', 'nsfwjs-mobilenet-source'));
  const { segmentBetween } = require(path.join(dist, 'models', 'network-surgery'));
  const { buildHead } = require(path.join(dist, 'train', 'head'));
  const { fineTuneNetwork } = require(path.join(dist, 'train', 'fine-tune'));
  const { crossEntropy } = require(path.join(dist, 'train', 'fit'));
  const { seededRandom } = require(path.join(dist, 'train', 'seeded-random'));
  const batch = num('batch', 32);
  const warmupBatch = num('warmup-batch', batch);
  const warmups = num('warmups', 1);
  const maxSteps = num('steps', 3);
  const budgetSeconds = num('budget-s', 60);
  const numClasses = 10;
  const base = await new NsfwjsMobileNetSource().load('mobilenet_v2');
  const segment = segmentBetween(base.network.model, FT_FROM, FT_UNTIL, FT_SHAPE);
  const head = buildHead({ numFeatures: segment.outputs[0].shape[3], numClasses, dropout: 0.2, hiddenUnits: 0, initializer: 'glorotNormal', seed: 42 });
  const network = fineTuneNetwork({ segment, head, baseRateMultiplier: 0.1, trainBatchNorm: false });
  const random = seededRandom(42);
  const optimizers = network.groups.map((group) => tf.train.adam(0.001 * group.rateMultiplier));
  const variables = network.groups.flatMap((group) => group.variables);
  const params = variables.reduce((sum, v) => sum + v.size, 0);
  const inputs = (n, seed) => ({
    x: tf.randomNormal([n, ...FT_SHAPE], 0, 1, 'float32', seed),
    y: tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7 + seed) % numClasses), 'int32'), numClasses),
  });
  const step = ({ x, y }) =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => crossEntropy(network.forwardTraining(x, random), y), variables);
      network.groups.forEach((group, g) => optimizers[g].applyGradients(group.variables.map((v) => ({ name: v.name, tensor: grads[v.name] }))));
      return value.dataSync()[0];
    });
  const timeStep = (data) => {
    const started = process.hrtime.bigint();
    const loss = step(data);
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9, loss };
  };
  const warm = inputs(warmupBatch, 1);
  const warmupSeconds = [];
  for (let i = 0; i < warmups; i++) {
    warmupSeconds.push(timeStep(warm).seconds);
    process.stderr.write(`  warm-up step (batch ${warmupBatch}): ${warmupSeconds.at(-1).toFixed(2)} s\n`);
  }
  tf.dispose(warm);
  const data = inputs(batch, 2);
  const steps = [];
  const started = Date.now();
  while (steps.length < maxSteps && (steps.length === 0 || (Date.now() - started) / 1000 < budgetSeconds)) {
    const s = timeStep(data);
    if (!Number.isFinite(s.loss)) throw new Error(`loss ${s.loss}`);
    steps.push(s.seconds);
    process.stderr.write(`  step ${steps.length} (batch ${batch}): ${s.seconds.toFixed(2)} s\n`);
  }
  tf.dispose(data);
  const sorted = [...steps].sort((a, b) => a - b);
  const mid = (sorted.length - 1) / 2;
  const median = (sorted[Math.floor(mid)] + sorted[Math.ceil(mid)]) / 2;
  process.stdout.write(
    `${JSON.stringify({
      backend,
      batch,
      warmup: { steps: warmups, batch: warmupBatch, seconds: warmupSeconds },
      step_seconds: steps,
      median_step_s: median,
      img_per_s: batch / median,
      trainable_variables: variables.length,
      trainable_params: params,
      peak_rss_mb: maxRssMb(),
    })}\n`,
  );
}

/**
 * The naive baseline of the tfjs tutorials, on wasm: ONE LayersModel = the base truncated at the default
 * cut + global average pooling + dropout + dense softmax; every base layer trainable = false; model.fit on
 * the decoded images (same sharp decoding), so the frozen base runs forward on every image every epoch,
 * with batch norm in training mode (tfjs ignores `trainable` there). Same optimizer, initial rate, decay,
 * batch size and number of epochs as our head phase; no early stopping (as in the tutorials).
 */
async function childBaseline() {
  const { tf, backend } = await setUpBackend('wasm-stock');
  const { NsfwjsMobileNetSource } = require(path.join(dist, 'models', 'nsfwjs-mobilenet-source'));
  const { SharpImageDecoder } = require(path.join(dist, 'preprocess', 'sharp-image-decoder'));
  const pLimit = require('p-limit');
  const dataDir = flag('data');
  const testDir = flag('test');
  const epochs = num('epochs', 10);
  const learningRate = num('learning-rate', 0.02);
  const decayRate = num('decay-rate', 0.95);
  const batchSize = num('batch-size', 8);
  const dropout = num('dropout', 0.2);
  const seed = num('seed', 42);
  const timings = {};
  let t = Date.now();
  const lap = (name) => {
    timings[name] = (Date.now() - t) / 1000;
    t = Date.now();
  };
  const labels = fs.readdirSync(path.join(dataDir, 'train')).sort();
  const base = await new NsfwjsMobileNetSource().load('mobilenet_v2');
  const full = base.network.model;
  lap('load_s');
  const decoder = new SharpImageDecoder();
  const decode = { size: SIZE, fit: 'cover', maxInputPixels: 100_000_000 };
  const limit = pLimit(8);
  /** All images of a labelled folder as one float tensor in [0, 1] (the base's input range), as tutorials do. */
  const load = async (dir) => {
    const files = labels.flatMap((label, index) => fs.readdirSync(path.join(dir, label)).sort().map((f) => ({ file: path.join(dir, label, f), index })));
    const decoded = await Promise.all(files.map(({ file }) => limit(async () => (await decoder.decode(fs.readFileSync(file), decode)).data)));
    const flat = new Uint8Array(files.length * SIZE * SIZE * 3);
    decoded.forEach((d, i) => flat.set(d, i * SIZE * SIZE * 3));
    const x = tf.tidy(() => tf.div(tf.tensor4d(flat, [files.length, SIZE, SIZE, 3], 'int32').toFloat(), 255));
    const y = tf.oneHot(tf.tensor1d(files.map((f) => f.index), 'int32'), labels.length).toFloat();
    return { x, y, n: files.length };
  };
  const train = await load(path.join(dataDir, 'train'));
  const val = await load(path.join(dataDir, 'val'));
  lap('decode_s');

  const cut = flag('cut', CUT);
  let features = full.getLayer(cut).output;
  features = tf.layers.globalAveragePooling2d({ name: 'naive_pool' }).apply(features);
  features = tf.layers.dropout({ rate: dropout, name: 'naive_dropout' }).apply(features);
  const probabilities = tf.layers
    .dense({ units: labels.length, activation: 'softmax', kernelInitializer: tf.initializers.glorotNormal({ seed: seed + 2 }), name: 'naive_probabilities' })
    .apply(features);
  const model = tf.model({ inputs: full.inputs, outputs: probabilities, name: 'naive_transfer' });
  for (const layer of model.layers) if (!layer.name.startsWith('naive_')) layer.trainable = false;
  const optimizer = tf.train.adam(learningRate);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  // Moving mean and variance of every (frozen) batch norm layer, to show that fit changes them.
  const movingStats = () => model.layers.filter((l) => l.getClassName() === 'BatchNormalization').flatMap((l) => l.getWeights().slice(-2));
  const movingBefore = movingStats().map((w) => w.clone());
  const history = [];
  await model.fit(train.x, train.y, {
    epochs,
    batchSize,
    shuffle: true,
    validationData: [val.x, val.y],
    callbacks: {
      onEpochBegin: async (epoch) => {
        optimizer.learningRate = learningRate * decayRate ** epoch;
      },
      onEpochEnd: async (epoch, logs) => {
        history.push({ epoch, loss: logs.loss, acc: logs.acc, val_loss: logs.val_loss, val_acc: logs.val_acc });
        process.stderr.write(`  naive epoch ${epoch + 1}/${epochs} loss ${logs.loss.toFixed(4)} acc ${logs.acc.toFixed(3)} val_acc ${logs.val_acc.toFixed(3)} (${((Date.now() - t) / 1000).toFixed(1)} s so far)\n`);
      },
    },
  });
  lap('fit_s');
  const accuracy = (data) =>
    tf.tidy(() => {
      const parts = [];
      for (let start = 0; start < data.n; start += 32) {
        const size = Math.min(32, data.n - start);
        parts.push(tf.argMax(model.predict(tf.slice(data.x, start, size)), 1));
      }
      return tf.mean(tf.cast(tf.equal(tf.concat(parts), tf.argMax(data.y, 1)), 'float32')).dataSync()[0];
    });
  const valAccuracy = accuracy(val);
  const valPredictedClasses = tf.tidy(() => new Set(tf.argMax(model.predict(val.x, { batchSize: 32 }), 1).dataSync()).size);
  lap('val_eval_s');
  const wallSeconds = process.uptime();
  const movingChanges = tf.tidy(() => movingStats().map((w, i) => tf.max(tf.abs(tf.sub(w, movingBefore[i]))).dataSync()[0]));
  tf.dispose(movingBefore);
  tf.dispose([train.x, train.y, val.x, val.y]);
  const test = await load(testDir);
  const testAccuracy = accuracy(test);
  lap('test_eval_s');
  process.stdout.write(
    `${JSON.stringify({
      backend,
      cut,
      labels: labels.length,
      train_images: train.n,
      val_images: val.n,
      test_images: test.n,
      epochs,
      wall_s: wallSeconds,
      timings,
      fit_img_per_s: (train.n * epochs) / timings.fit_s,
      val_accuracy: valAccuracy,
      val_distinct_predicted_classes: valPredictedClasses,
      test_accuracy: testAccuracy,
      history,
      frozen_bn_moving_stats: { tensors: movingChanges.length, changed: movingChanges.filter((c) => c > 0).length, max_abs_change: Math.max(...movingChanges) },
      peak_rss_mb: maxRssMb(),
    })}\n`,
  );
}

/**
 * Whether the naive model survives one model.fit step at --batch on wasm (random images: only the
 * memory matters). tfjs' tape keeps every activation of the frozen base for the step.
 */
async function childNaiveProbe() {
  const { tf, backend } = await setUpBackend('wasm-stock');
  const { NsfwjsMobileNetSource } = require(path.join(dist, 'models', 'nsfwjs-mobilenet-source'));
  const batch = num('batch', 32);
  const base = await new NsfwjsMobileNetSource().load('mobilenet_v2');
  const full = base.network.model;
  const pooled = tf.layers.globalAveragePooling2d({ name: 'naive_pool' }).apply(full.getLayer(flag('cut', CUT)).output);
  const model = tf.model({ inputs: full.inputs, outputs: tf.layers.dense({ units: 10, activation: 'softmax', name: 'naive_probabilities' }).apply(pooled) });
  for (const layer of model.layers) if (!layer.name.startsWith('naive_')) layer.trainable = false;
  model.compile({ optimizer: tf.train.adam(0.02), loss: 'categoricalCrossentropy' });
  const x = tf.randomUniform([batch, SIZE, SIZE, 3], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), 'int32'), 10).toFloat();
  const started = Date.now();
  let error;
  try {
    await model.fit(x, y, { batchSize: batch, epochs: 1, verbose: 0 });
  } catch (e) {
    error = String(e.message ?? e).split('\n')[0];
  }
  process.stdout.write(`${JSON.stringify({ backend, batch, ok: error === undefined, error, seconds: (Date.now() - started) / 1000, peak_rss_mb: maxRssMb() })}\n`);
}

// ---------------------------------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------------------------------

let clockTicks;
/** CPU seconds: the whole machine's busy time, and this process's children's (once reaped) and its own. */
function cpuCounters() {
  clockTicks ??= (() => {
    try {
      return Number(require('node:child_process').execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
    } catch {
      return 100;
    }
  })();
  try {
    const [, ...fields] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    const busy = fields.reduce((a, b) => a + b, 0) - fields[3] - (fields[4] ?? 0); // minus idle and iowait
    const self = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ').map(Number);
    // After ") ": state is index 0, so utime = 11, stime = 12, cutime = 13, cstime = 14.
    return { machine: busy / clockTicks, children: (self[13] + self[14]) / clockTicks, self: (self[11] + self[12]) / clockTicks };
  } catch {
    return undefined;
  }
}

/**
 * Other processes on the machine during a measurement: CPU seconds the machine spent beyond this process
 * and its children, and their share of all cores over the wall time.
 */
function contention(before, after, wallSeconds) {
  if (!before || !after) return undefined;
  const ours = after.children - before.children + (after.self - before.self);
  const others = Math.max(0, after.machine - before.machine - ours);
  return { own_cpu_s: round(ours, 1), other_processes_cpu_s: round(others, 1), other_processes_share_of_cores: round(others / (os.cpus().length * wallSeconds)) };
}

/** Runs a command, stderr forwarded line by line with a prefix; resolves with stdout, wall seconds and contention. */
function run(label, command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const counters = cpuCounters();
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    let stdout = '';
    let pending = '';
    const tail = [];
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        process.stderr.write(`  [${label}] ${line}\n`);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`${label}: exit ${code}\n${tail.join('\n')}\n${pending}`));
      else resolve({ stdout, wall_s: wall, machine: contention(counters, cpuCounters(), wall) });
    });
  });
}

async function runChild(label, mode, args) {
  const { stdout, machine } = await run(label, process.execPath, [__filename, '--child', mode, ...args]);
  return { ...JSON.parse(stdout.trim().split('\n').at(-1)), machine };
}

/** Preload for CLI runs: writes the process's peak RSS (worker threads included) to a file on exit. */
function writeRssPreload(dir) {
  const file = path.join(dir, 'peak-rss-preload.js');
  fs.writeFileSync(
    file,
    "process.on('exit', () => { try { require('node:fs').writeFileSync(process.env.BENCH_RSS_FILE, String(process.resourceUsage().maxRSS)); } catch {} });\n",
  );
  return file;
}

async function runCli(label, args, tmp) {
  const rssFile = path.join(tmp, `rss-${label}.txt`);
  fs.rmSync(rssFile, { force: true });
  const { stdout, wall_s, machine } = await run(label, process.execPath, ['--require', writeRssPreload(tmp), cli, ...args], { env: { BENCH_RSS_FILE: rssFile, NODE_ENV: 'development' } });
  const peak = fs.existsSync(rssFile) ? Number(fs.readFileSync(rssFile, 'utf8')) / 1024 : null;
  return { result: JSON.parse(stdout), wall_s, peak_rss_mb: round(peak, 0), machine };
}

function readIdx(name) {
  const images = zlib.gunzipSync(fs.readFileSync(path.join(FASHION, `${name}-images-idx3-ubyte.gz`)));
  const labels = zlib.gunzipSync(fs.readFileSync(path.join(FASHION, `${name}-labels-idx1-ubyte.gz`)));
  if (images.readUInt32BE(0) !== 0x803 || labels.readUInt32BE(0) !== 0x801) throw new Error(`${name}: not IDX image/label files`);
  const count = images.readUInt32BE(4);
  return { count, label: (i) => labels[8 + i], pixels: (i) => images.subarray(16 + i * 784, 16 + (i + 1) * 784) };
}

/**
 * Writes Fashion-MNIST images (per class: the first `perClass` of that label from `skip` on) into
 * dir/<class>/ (or split into dir/train and dir/val: every `valEvery`-th image to val). JPEG: upscaled to
 * 256x256 sRGB (photo-like decode cost); PNG: the original 28x28 grayscale.
 */
async function writeImages(source, dir, { perClass, format, valEvery, skip = 0 }) {
  const sharp = require('sharp');
  const idx = readIdx(source);
  const taken = new Array(10).fill(0);
  const seen = new Array(10).fill(0);
  let written = 0;
  for (let i = 0; i < idx.count && written < perClass * 10; i++) {
    const c = idx.label(i);
    if (seen[c]++ < skip || taken[c] >= perClass) continue;
    const n = taken[c]++;
    const split = valEvery ? (n % valEvery === valEvery - 1 ? 'val' : 'train') : '';
    const classDir = path.join(dir, split, CLASSES[c]);
    fs.mkdirSync(classDir, { recursive: true });
    const image = sharp(idx.pixels(i), { raw: { width: 28, height: 28, channels: 1 } });
    const name = `${source}-${String(i).padStart(5, '0')}`;
    if (format === 'jpeg') {
      await image.resize(256, 256, { kernel: 'lanczos3' }).toColourspace('srgb').jpeg({ quality: 90 }).toFile(path.join(classDir, `${name}.jpg`));
    } else {
      await image.toColourspace('b-w').png().toFile(path.join(classDir, `${name}.png`));
    }
    written++;
  }
  return written;
}

async function benchFrozenPart(imagesDir, wasmImages, cpuImages) {
  log(`frozenPart: wasm ${wasmImages} images in process and with 2 workers; cpu ours and stock cpu ${cpuImages} images each`);
  const args = (backend, images, workers) => ['--backend', backend, '--dir', imagesDir, '--images', String(images), '--workers', String(workers)];
  const stock = await runChild('frozen cpu-stock', 'frozen', args('cpu-stock', cpuImages, 1));
  const measured = {
    wasm_in_process: await runChild('frozen wasm x1', 'frozen', args('wasm', wasmImages, 1)),
    wasm_2_workers: await runChild('frozen wasm x2', 'frozen', args('wasm', wasmImages, 2)),
    cpu_ours: await runChild('frozen cpu', 'frozen', args('cpu', cpuImages, 1)),
  };
  const rate = (r) => r.images / r.seconds;
  const stockRate = rate(stock);
  const entry = (r) => ({
    backend: r.backend.name,
    kernels: r.backend.kernels,
    workers: r.workers,
    images: r.images,
    img_per_s: round(rate(r)),
    img_per_s_after_worker_start: r.workers > 1 ? round(r.images / (r.seconds - r.worker_start_s)) : undefined,
    seconds: round(r.seconds),
    worker_start_s: r.workers > 1 ? round(r.worker_start_s) : undefined,
    cpu_s: round(r.cpu_s),
    model_load_s: round(r.load_s),
    peak_rss_mb: r.peak_rss_mb,
    machine_during_measurement: r.machine,
    vs_stock_cpu: round(rate(r) / stockRate, 1),
  });
  const wasm1 = measured.wasm_in_process;
  const wasm2 = measured.wasm_2_workers;
  return {
    what: `sharp decode + frozen part (input scaling .. ${SIZE}x${SIZE} -> ${CUT}) + global average pooling, nothing cached, batch 32, as extractFeatures() runs it in train; timed from the first decode to the last feature (model load excluded, worker start included)`,
    unit: 'img/s (images per second, wall clock)',
    stock_cpu: {
      backend: 'cpu',
      kernels: stock.backend.kernels,
      verified_untouched: stock.backend.verified_untouched,
      images: stock.images,
      img_per_s: round(stockRate, 3),
      seconds: round(stock.seconds),
      peak_rss_mb: stock.peak_rss_mb,
      machine_during_measurement: stock.machine,
    },
    wasm_in_process: entry(wasm1),
    wasm_2_workers: entry(wasm2),
    cpu_ours: entry(measured.cpu_ours),
    wasm_2_workers_vs_in_process: round(rate(wasm2) / rate(wasm1)),
    features_identical_wasm_1_vs_2_workers: wasm1.features_sha256 === wasm2.features_sha256,
    goal: { extraction_img_per_s_at_least: 18, best_img_per_s: round(Math.max(rate(wasm1), rate(wasm2))), met: Math.max(rate(wasm1), rate(wasm2)) >= 18 },
    notes: [
      `stock cpu and cpu ours run ${cpuImages} images (one batch; ~0.5 img/s); wasm runs ${wasmImages}. The forward pass uses no training kernel, so cpu ours ~ stock cpu is expected.`,
      'each measurement is a fresh process; throughput includes sharp decoding of 256x256 JPEGs (8 in flight).',
    ],
  };
}

async function benchFineTune() {
  log('fineTune: wasm ours (batch 32), cpu ours (batch 32 and 4), stock cpu (batch 4, scaled to 32)');
  const args = (backend, batch, extra = []) => ['--backend', backend, '--batch', String(batch), ...extra];
  const wasm = await runChild('finetune wasm', 'finetune', args('wasm', 32, ['--warmups', '1', '--steps', '5', '--budget-s', '20']));
  const cpu = await runChild('finetune cpu', 'finetune', args('cpu', 32, ['--warmups', '1', '--warmup-batch', '1', '--steps', '1', '--budget-s', '0']));
  const cpu4 = await runChild('finetune cpu b4', 'finetune', args('cpu', 4, ['--warmups', '1', '--warmup-batch', '1', '--steps', '2', '--budget-s', '20']));
  const stock4 = await runChild('finetune cpu-stock b4', 'finetune', args('cpu-stock', 4, ['--warmups', '0', '--steps', '1', '--budget-s', '0']));
  // Stock cpu's convolution gradients are linear in the batch: scale its batch-4 step to batch 32.
  const stockStep32 = stock4.median_step_s * (32 / 4);
  const stockRate32 = 32 / stockStep32;
  const entry = (r) => ({
    backend: r.backend.name,
    kernels: r.backend.kernels,
    batch: r.batch,
    img_per_s: round(r.img_per_s),
    median_step_s: round(r.median_step_s, 3),
    steps_timed: r.step_seconds.length,
    step_s: r.step_seconds.map((s) => round(s, 3)),
    warmup: r.warmup.steps === 0 ? 'none (first step timed)' : `${r.warmup.steps} untimed step(s) at batch ${r.warmup.batch} first: ${r.warmup.seconds.map((s) => round(s)).join(', ')} s`,
    peak_rss_mb: r.peak_rss_mb,
    machine_during_measurement: r.machine,
  });
  return {
    what: `one training step = forward ${FT_FROM} -> ${FT_UNTIL} (top 4 blocks, batch norm in inference mode) -> pooling -> dropout -> dense softmax, tf.variableGrads of crossEntropy, Adam applyGradients (2 groups: blocks at 0.1x). Inputs shaped like cached ${FT_FROM} activations [batch, ${FT_SHAPE.join(', ')}]`,
    unit: 'img/s (training examples per second) and s per step',
    trainable_params: wasm.trainable_params,
    trainable_variables: wasm.trainable_variables,
    stock_cpu: {
      ...entry(stock4),
      verified_untouched: stock4.backend.verified_untouched,
      scaled_to_batch_32: { step_s: round(stockStep32, 1), img_per_s: round(stockRate32, 3) },
      how: `one step at batch 4 (no warm-up: it would cost another ~20 s at batch 1), scaled linearly to batch 32 (a batch-32 step would take ~${Math.round(stockStep32 / 60)} minutes)`,
    },
    wasm_ours: { ...entry(wasm), vs_stock_cpu: round(wasm.img_per_s / stockRate32, 1) },
    cpu_ours: { ...entry(cpu), vs_stock_cpu: round(cpu.img_per_s / stockRate32, 1) },
    cpu_ours_batch_4: { ...entry(cpu4), vs_stock_cpu_same_batch: round(cpu4.img_per_s / stock4.img_per_s, 1) },
    goal: { img_per_s_at_least: 10, aim: 30, best_img_per_s: round(Math.max(wasm.img_per_s, cpu.img_per_s)), met: Math.max(wasm.img_per_s, cpu.img_per_s) >= 10 },
    notes: [
      'vs_stock_cpu divides by the stock cpu rate scaled to batch 32; cpu_ours_batch_4 is the direct same-batch comparison without scaling.',
      'input values are random N(0, 1): the cost of the dense kernels does not depend on them.',
    ],
  };
}

async function benchEndToEnd(tmp, perClass, testPerClass, epochs, naiveBatch) {
  const data = path.join(tmp, 'e2e-data');
  const test = path.join(tmp, 'e2e-unseen');
  const valEvery = 5;
  log(`endToEnd: writing ${perClass * 10} training-set JPEGs (train/ + val/, every ${valEvery}th to val) and ${testPerClass * 10} unseen test-set JPEGs`);
  await writeImages('train', data, { perClass, format: 'jpeg', valEvery });
  await writeImages('t10k', test, { perClass: testPerClass, format: 'jpeg' });
  const count = (d) => listImages(d).length;
  const common = ['--json', '--data', data, '--backend', 'wasm', '--epochs', String(epochs), '--seed', '42'];
  const ours = {};
  const evaluate = async (label, exportDir) => {
    const { result, wall_s } = await runCli(`${label} evaluate`, ['evaluate', '--json', '--backend', 'wasm', '--model', exportDir, '--data', test], tmp);
    return { accuracy: result.accuracy, n: result.n, wall_s };
  };
  const trainRun = async (label, policy, cacheDir) => {
    log(`endToEnd: finetune train ${policy ? `--policy ${policy}` : '(configured default policy)'} (${label})`);
    const args = [...common, ...(policy ? ['--policy', policy] : []), '--cache-dir', cacheDir, '--out', path.join(tmp, 'exports', label), '--name', 'bench'];
    const { result, wall_s, peak_rss_mb, machine } = await runCli(label, ['train', ...args], tmp);
    return { result, wall_s, peak_rss_mb, machine, command: `node bin/finetune.js train ${args.join(' ').replaceAll(tmp, '$TMP')}` };
  };
  const summary = (r, unseen) => ({
    command: r.command,
    wall_s: round(r.wall_s, 1),
    plan: { policy: r.result.plan.policy, cut_layer: r.result.plan.cutLayer, fine_tune: r.result.plan.fineTune ?? null },
    backend: r.result.backend.name,
    features: r.result.features,
    timings_s: Object.fromEntries(Object.entries(r.result.timings).filter(([k]) => k.endsWith('_s')).map(([k, v]) => [k, round(v)])),
    extract_img_per_s: round(r.result.timings.extract_img_per_s),
    train_img_per_s: round(r.result.timings.train_img_per_s),
    val_accuracy: round(r.result.metrics.val.accuracy, 4),
    val_images: r.result.metrics.val.n,
    unseen_accuracy: unseen ? round(unseen.accuracy, 4) : undefined,
    unseen_images: unseen?.n,
    peak_rss_mb: r.peak_rss_mb,
    machine_during_measurement: r.machine,
  });

  const top = await trainRun('top', 'top', path.join(tmp, 'cache-top'));
  const topUnseen = await evaluate('top', top.result.exportDir);
  ours.top = summary(top, topUnseen);
  const byDefault = await trainRun('default', undefined, path.join(tmp, 'cache-default'));
  const defaultUnseen = await evaluate('default', byDefault.result.exportDir);
  ours.default = summary(byDefault, defaultUnseen);
  const again = await trainRun('default-again', undefined, path.join(tmp, 'cache-default'));
  ours.default_second_run = summary(again);
  // The naive model gets our head's optimizer settings, as resolved for the default run.
  const resolvedTrain = JSON.parse(fs.readFileSync(path.join(byDefault.result.exportDir, 'metadata.json'), 'utf8')).config?.values?.train ?? {};
  const learningRate = resolvedTrain.learningRate ?? 0.005;
  const decayRate = resolvedTrain.decayRate ?? 0.95;

  let probe32 = { ok: null, error: 'not measured: add --naive-probe (or --large); ~40 s' };
  if (argv.includes('--naive-probe') || argv.includes('--large')) {
    log(`endToEnd: can the naive model take one model.fit step at batch 32 on wasm?`);
    try {
      probe32 = await runChild('naive probe b32', 'naive-probe', ['--batch', '32', '--cut', byDefault.result.plan.cutLayer]);
    } catch (error) {
      probe32 = { ok: false, error: `process died: ${String(error.message).split('\n').slice(1).find((l) => /Error|Abort/.test(l)) ?? 'see stderr'}` };
    }
  }
  const naiveCut = byDefault.result.plan.cutLayer;
  log(`endToEnd: naive baseline (model.fit on images, cut ${naiveCut}, ${epochs} epochs, batch ${naiveBatch})`);
  const naive = await runChild('naive', 'baseline', ['--data', data, '--test', test, '--cut', naiveCut, '--epochs', String(epochs), '--batch-size', String(naiveBatch), '--learning-rate', String(learningRate), '--decay-rate', String(decayRate)]);
  const naiveSummary = {
    what: `tfjs tutorial style: ONE tf.LayersModel = mobilenet_v2 truncated at ${naive.cut} (the cut of our default run) + globalAveragePooling + dropout 0.2 + dense softmax, base layers trainable = false, model.fit on decoded ${SIZE}x${SIZE} images in [0, 1] (same sharp decoding), Adam ${learningRate} x ${decayRate}^epoch (our head's resolved train.learningRate and train.decayRate), batch ${naiveBatch}, ${epochs} epochs (no early stopping), validationData = the same val/ images`,
    backend: naive.backend.name,
    kernels: naive.backend.kernels,
    wall_s: round(naive.wall_s, 1),
    timings_s: Object.fromEntries(Object.entries(naive.timings).map(([k, v]) => [k, round(v)])),
    fit_img_per_s: round(naive.fit_img_per_s),
    val_accuracy: round(naive.val_accuracy, 4),
    val_images: naive.val_images,
    val_distinct_predicted_classes: naive.val_distinct_predicted_classes,
    unseen_accuracy: round(naive.test_accuracy, 4),
    unseen_images: naive.test_images,
    batch: naiveBatch,
    batch_32: { ok: probe32.ok, error: probe32.error, peak_rss_mb: probe32.peak_rss_mb, what: 'one model.fit step of the same model at batch 32 (random images), in its own process' },
    frozen_bn_moving_stats_changed_by_fit: naive.frozen_bn_moving_stats,
    peak_rss_mb: naive.peak_rss_mb,
    machine_during_measurement: naive.machine,
    val_accuracy_by_epoch: naive.history.map((h) => round(h.val_acc, 3)),
    train_accuracy_by_epoch: naive.history.map((h) => round(h.acc, 3)),
  };
  const faster = (r) => round(naive.wall_s / r.wall_s, 1);
  const accuracyDelta = (r) => round(r.val_accuracy - naiveSummary.val_accuracy, 4);
  return {
    what: 'whole `train` (node startup, model load, scan, extraction, training, export with reload check) vs the naive baseline (node startup to validation accuracy), same backend (wasm), same images, same train/val split, same epochs for the head',
    unit: 'wall seconds; accuracies as fractions',
    data: {
      source: 'Debian dataset-fashion-mnist, 10 classes, written as 256x256 JPEGs (upscaled, q90)',
      train_images: count(path.join(data, 'train')),
      val_images: count(path.join(data, 'val')),
      unseen_images: count(test),
      split: `explicit train/ and val/ folders (every ${valEvery}th image of a class to val/), used by both`,
      unseen: `t10k file, ${testPerClass} per class, scored with \`finetune evaluate\` (ours) and model.predict (naive)`,
    },
    epochs: { head: epochs, fine_tune: 'config default (train.fineTuneEpochs)', naive: epochs },
    batch: { ours: 32, naive: naiveBatch },
    notes: [
      `the naive model trains at batch ${naiveBatch}: tfjs keeps every activation of the frozen base on the gradient tape, and at batch 16 or 32 the wasm heap (4 GB) runs out ("Aborted()"; measured by naive.batch_32 with --naive-probe or --large). With batch ${naiveBatch} it takes ${32 / naiveBatch}x more optimizer steps per epoch than ours.`,
      'naive.frozen_bn_moving_stats_changed_by_fit: moving mean/variance tensors of the frozen batch norm layers that model.fit changed, although every base layer is trainable = false (tfjs BatchNormalization ignores trainable). The naive head also learns on features normalized with the statistics of each batch of 8, and at inference sees features normalized with moving statistics: its predictions collapse onto a few classes (val_distinct_predicted_classes). Restoring the original moving statistics after fit does not rescue it (checked once by hand: all 40 val predictions one class).',
      'our head phase may stop early (train.patience); epochs here are the most it may run.',
    ],
    ours,
    naive: naiveSummary,
    ratios: {
      naive_wall_over_ours_default: faster(ours.default),
      naive_wall_over_ours_top: faster(ours.top),
      val_accuracy_ours_default_minus_naive: accuracyDelta(ours.default),
      val_accuracy_ours_top_minus_naive: accuracyDelta(ours.top),
      second_run_extract_over_first: round(again.result.timings.extract_s / byDefault.result.timings.extract_s, 3),
    },
    goals: {
      end_to_end_at_least_10x_faster_at_equal_or_better_accuracy: {
        default: faster(ours.default) >= 10 && ours.default.val_accuracy >= naiveSummary.val_accuracy,
        top: faster(ours.top) >= 10 && ours.top.val_accuracy >= naiveSummary.val_accuracy,
      },
      second_run_extract_under_a_tenth: again.result.timings.extract_s < byDefault.result.timings.extract_s / 10,
    },
  };
}

async function benchMemory(tmp, perClass, policy) {
  const policyArgs = policy ? ['--policy', policy] : [];
  const policyText = policy ? `policy ${policy}` : 'the configured default policy';
  const data = path.join(tmp, 'large-data');
  log(`memory: writing ${perClass * 10} 28x28 PNGs`);
  const written = await writeImages('train', data, { perClass, format: 'png' });
  log(`memory: finetune train (${policyText}) on ${written} images`);
  const args = ['--json', '--data', data, '--backend', 'wasm', ...policyArgs, '--cache-dir', path.join(tmp, 'cache-large'), '--out', path.join(tmp, 'exports', 'large'), '--name', 'large'];
  const { result, wall_s, peak_rss_mb, machine } = await runCli('large', ['train', ...args], tmp);
  return {
    what: `peak resident set size of \`finetune train\` (${policyText}, NODE_ENV=development, wasm) on ${written} images (Fashion-MNIST, 10 classes x ${perClass}, 28x28 PNG, decoded to ${SIZE}x${SIZE}); process.resourceUsage().maxRSS of the CLI process (worker threads included)`,
    command: `node bin/finetune.js train ${args.join(' ').replaceAll(tmp, '$TMP')}`,
    images: written,
    plan: { policy: result.plan.policy, cut_layer: result.plan.cutLayer, fine_tune: result.plan.fineTune ?? null },
    features: result.features,
    peak_rss_mb,
    machine_during_measurement: machine,
    unit: 'MB (2^20 bytes) and wall seconds',
    wall_s: round(wall_s, 1),
    timings_s: Object.fromEntries(Object.entries(result.timings).filter(([k]) => k.endsWith('_s')).map(([k, v]) => [k, round(v)])),
    extract_img_per_s: round(result.timings.extract_img_per_s),
    train_img_per_s: round(result.timings.train_img_per_s),
    val_accuracy: round(result.metrics.val.accuracy, 4),
    val_images: result.metrics.val.n,
    goal: { peak_rss_mb_under: 1536, met: peak_rss_mb != null && peak_rss_mb < 1536 },
  };
}

async function main() {
  const large = argv.includes('--large');
  const sections = flag('only', 'frozenPart,fineTune,endToEnd,compiled,memory').split(',');
  const want = (s) => sections.includes(s) && (s !== 'memory' || large);
  for (const f of ['choose-backend.js', '../features/extract-features.js', '../train/fine-tune.js']) {
    if (!fs.existsSync(path.join(dist, 'backend', f))) throw new Error(`dist/ is missing ${f}: run npm run build first`);
  }
  if (!fs.existsSync(FASHION)) throw new Error(`${FASHION} is missing: apt-get install dataset-fashion-mnist`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'finetune-bench-'));
  const started = Date.now();
  const loadBefore = os.loadavg();
  const doc = {
    benchmark: 'finetune issue 3: frozen-part and fine-tune throughput per backend beside untouched tfjs cpu, end-to-end train beside the naive tfjs baseline',
    measured_at: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model,
      memory_gb: round(os.totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      load_average_1m_before: round(loadBefore[0]),
    },
    versions: { tfjs: require('@tensorflow/tfjs/package.json').version, sharp: require('sharp').versions.sharp },
    base: { id: 'mobilenet_v2', source: 'nsfwjs MobileNetV2 (src/models/nsfwjs-mobilenet-source.ts)', image_size: SIZE },
    notes: [
      'Throughputs are wall-clock figures on a machine that may be shared: machine_during_measurement gives, per measurement, the CPU seconds of other processes (from /proc/stat minus this benchmark and its children) and their share of all cores; at 0.5 on 2 cores another process held about one core, which halves what 2 workers can gain.',
      'Units are in the key names or fields: _s seconds, img_per_s images per second, _mb 2^20 bytes; accuracies are fractions.',
    ],
  };
  try {
    const perClass = num('per-class', 20);
    let framesDir;
    if (want('frozenPart')) {
      framesDir = path.join(tmp, 'frozen-images');
      await writeImages('train', framesDir, { perClass: Math.ceil(Math.max(num('wasm-images', 192), num('cpu-images', 4)) / 10), format: 'jpeg', skip: 1000 });
    }
    // Other processes on the machine slow every figure: the 1-minute load average is recorded per section.
    doc.sections = {};
    const section = async (name, measure) => {
      const sectionStarted = Date.now();
      const load = os.loadavg()[0];
      doc[name] = await measure();
      doc.sections[name] = { wall_s: round((Date.now() - sectionStarted) / 1000, 1), load_average_1m_at_start: round(load), load_average_1m_at_end: round(os.loadavg()[0]) };
    };
    if (want('frozenPart')) await section('frozenPart', () => benchFrozenPart(framesDir, num('wasm-images', 192), num('cpu-images', 4)));
    if (want('fineTune')) await section('fineTune', () => benchFineTune());
    if (want('endToEnd')) await section('endToEnd', () => benchEndToEnd(tmp, perClass, num('test-per-class', 10), num('epochs', 8), num('naive-batch', 8)));
    if (want('compiled')) {
      await section('compiled', async () => JSON.parse((await run('compiled', process.execPath, [path.join(__dirname, 'bench-compiled.js')])).stdout));
    }
    if (want('memory')) await section('memory', () => benchMemory(tmp, num('large-per-class', 500), flag('large-policy')));
    else if (!large) doc.memory = { skipped: 'run with --large (5,000 images; see the header of scripts/bench.js for how long)' };
  } finally {
    if (!argv.includes('--keep')) fs.rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  }
  doc.total_wall_s = round((Date.now() - started) / 1000, 1);
  doc.machine.load_average_1m_after = round(os.loadavg()[0]);
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}

const childMode = flag('child');
const children = { frozen: childFrozen, finetune: childFineTune, baseline: childBaseline, 'naive-probe': childNaiveProbe };
const entry = children[childMode] ?? main;
entry().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
