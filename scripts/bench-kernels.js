#!/usr/bin/env node
'use strict';
/**
 * Times the convolution-gradient kernels of src/backend/training-kernels.ts on the shapes of MobileNetV2's
 * top blocks at 224x224 (batch 32), on wasm and cpu, beside the stock cpu kernels (and the stock wasm
 * Conv2DBackpropInput, the only one wasm has), all in this one run. Prints one JSON document.
 *
 *   npm run build && node scripts/bench-kernels.js [--reps 5] [--stock-batch 4] [--batch 32]
 *
 * The stock cpu Conv2DBackpropFilter takes 10-30 s per call at batch 8, so the stock cpu kernels run at
 * --stock-batch and their time is scaled linearly to --batch (their loops are linear in the batch); the
 * measured batch and time are reported beside the scaled figure.
 */
const os = require('node:os');
const path = require('node:path');
const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');
const kernels = require(path.join(__dirname, '..', 'dist', 'src', 'backend', 'training-kernels.js'));

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] != null ? Number(process.argv[i + 1]) : fallback;
}
const BATCH = option('batch', 32);
const REPS = option('reps', 5);
const STOCK_BATCH = option('stock-batch', 4);

/** MobileNetV2 (alpha 1.0, 224x224) top-block layers. */
const LAYERS = [
  { layer: 'block_13_expand (1x1 conv)', kind: 'conv', x: [14, 14, 96], outChannels: 576, kernel: 1, stride: 1, pad: 'valid' },
  { layer: 'block_14_expand (1x1 conv)', kind: 'conv', x: [7, 7, 160], outChannels: 960, kernel: 1, stride: 1, pad: 'valid' },
  { layer: 'block_16_project (1x1 conv)', kind: 'conv', x: [7, 7, 960], outChannels: 320, kernel: 1, stride: 1, pad: 'valid' },
  // Keras pads 14x14 to 15x15 (ZeroPadding2D ((0,1),(0,1))) and uses 'valid': the same pads as 'same' here.
  { layer: 'block_13_depthwise (3x3 dw, stride 2)', kind: 'depthwise', x: [14, 14, 576], kernel: 3, stride: 2, pad: 'same' },
  { layer: 'block_14_depthwise (3x3 dw, stride 1)', kind: 'depthwise', x: [7, 7, 960], kernel: 3, stride: 1, pad: 'same' },
];

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (v, digits = 1) => (v == null ? null : Number(v.toFixed(digits)));

/** Median wall time of `reps` calls after one warm-up call; `run` returns what must be disposed. */
function time(run, reps) {
  tf.dispose(run());
  const samples = [];
  for (let i = 0; i < reps; i++) {
    const start = process.hrtime.bigint();
    const out = run();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    tf.dispose(out);
  }
  return median(samples);
}

function callFor(spec, kernelName, batch) {
  const depthwise = spec.kind === 'depthwise';
  const [h, w, c] = spec.x;
  const xShape = [batch, h, w, c];
  const filterShape = depthwise ? [spec.kernel, spec.kernel, c, 1] : [spec.kernel, spec.kernel, c, spec.outChannels];
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, spec.stride, 1, spec.pad, undefined, depthwise);
  const dyShape = [batch, info.outHeight, info.outWidth, info.outChannels];
  const common = depthwise ? { strides: spec.stride, pad: spec.pad, dilations: 1 } : { strides: spec.stride, pad: spec.pad, dataFormat: 'NHWC' };
  const make = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
  if (kernelName.endsWith('Filter')) {
    return { inputs: { x: make(xShape, 1), dy: make(dyShape, 2) }, attrs: { ...common, filterShape } };
  }
  return { inputs: { dy: make(dyShape, 2), filter: make(filterShape, 3) }, attrs: { ...common, inputShape: xShape } };
}

async function measure(backend, spec, kernelName, batch, which, reps) {
  await tf.setBackend(backend);
  const { inputs, attrs } = callFor(spec, kernelName, batch);
  let run;
  if (which === 'ours') {
    run = () => tf.engine().runKernel(kernelName, inputs, attrs);
  } else {
    const stock = kernels.referenceKernel(kernelName, backend);
    if (stock == null) {
      tf.dispose(Object.values(inputs));
      return null;
    }
    run = () => tf.engine().makeTensorFromTensorInfo(stock.kernelFunc({ inputs, attrs, backend: tf.backend() }));
  }
  const ms = time(run, reps);
  tf.dispose(Object.values(inputs));
  return ms;
}

async function main() {
  kernels.registerTrainingKernels('wasm');
  kernels.registerTrainingKernels('cpu');
  await tf.setBackend('wasm');
  const results = [];
  for (const spec of LAYERS) {
    const names =
      spec.kind === 'conv'
        ? ['Conv2DBackpropFilter', 'Conv2DBackpropInput']
        : ['DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'];
    for (const kernelName of names) {
      kernels.resetTrainingKernelStats();
      const wasmOurs = await measure('wasm', spec, kernelName, BATCH, 'ours', REPS);
      const wasmStock = await measure('wasm', spec, kernelName, BATCH, 'stock', Math.min(REPS, 3));
      const cpuOurs = await measure('cpu', spec, kernelName, BATCH, 'ours', Math.min(REPS, 3));
      const slowStock = kernelName === 'Conv2DBackpropFilter' || kernelName === 'DepthwiseConv2dNativeBackpropFilter';
      const stockBatch = slowStock ? Math.min(STOCK_BATCH, BATCH) : BATCH;
      const cpuStockMeasured = await measure('cpu', spec, kernelName, stockBatch, 'stock', slowStock ? 1 : Math.min(REPS, 3));
      const cpuStock = cpuStockMeasured * (BATCH / stockBatch);
      const stats = kernels.trainingKernelStats();
      const path = (backend) => {
        const s = stats[`${backend}/${kernelName}`] ?? { fast: 0, fallback: 0 };
        return s.fallback === 0 ? 'composition' : s.fast === 0 ? 'stock kernel' : 'mixed';
      };
      results.push({
        layer: spec.layer,
        kernel: kernelName,
        x: [BATCH, ...spec.x],
        strides: spec.stride,
        pad: spec.pad,
        ms_per_call: {
          wasm_ours: round(wasmOurs),
          cpu_ours: round(cpuOurs),
          cpu_stock: round(cpuStock),
          wasm_stock: round(wasmStock),
        },
        cpu_stock_measured: { batch: stockBatch, ms: round(cpuStockMeasured), scaled_to_batch: BATCH },
        path: { wasm: path('wasm'), cpu: path('cpu') },
        speedup: {
          wasm_ours_vs_cpu_stock: round(cpuStock / wasmOurs),
          cpu_ours_vs_cpu_stock: round(cpuStock / cpuOurs),
          wasm_ours_vs_wasm_stock: wasmStock == null ? null : round(wasmStock / wasmOurs),
        },
      });
      process.stderr.write(`${spec.layer} ${kernelName}: ${JSON.stringify(results[results.length - 1].ms_per_call)}\n`);
    }
  }
  const sum = (key) => results.reduce((acc, r) => acc + r.ms_per_call[key], 0);
  const totals = { wasm_ours: round(sum('wasm_ours')), cpu_ours: round(sum('cpu_ours')), cpu_stock: round(sum('cpu_stock')) };
  const doc = {
    benchmark: 'convolution gradient kernels, MobileNetV2 top-block shapes at 224x224',
    measured_at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadavg_1m: round(os.loadavg()[0], 2) },
    tfjs: tf.version.tfjs,
    settings: { batch: BATCH, reps: REPS, timing: 'median wall ms per call after one warm-up call', wasm_threads: 1 },
    results,
    totals_ms: totals,
    totals_speedup: {
      wasm_ours_vs_cpu_stock: round(totals.cpu_stock / totals.wasm_ours),
      cpu_ours_vs_cpu_stock: round(totals.cpu_stock / totals.cpu_ours),
    },
    notes: [
      'wasm_stock is null where tfjs-backend-wasm registers no kernel (tf.grad through that op throws there).',
      'path: "composition" = the registered fast kernel ran; "stock kernel" = the cpu registration kept the stock loop because it is as fast there.',
      `cpu_stock for the filter gradients is measured at batch ${Math.min(STOCK_BATCH, BATCH)} and scaled linearly to batch ${BATCH}.`,
    ],
  };
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
