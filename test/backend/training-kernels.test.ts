import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { conv2dFilterGrad } from '../../src/backend/kernels/conv2d-backprop-filter';
import { conv2dInputGrad } from '../../src/backend/kernels/conv2d-backprop-input';
import { depthwiseFilterGrad } from '../../src/backend/kernels/depthwise-backprop-filter';
import { depthwiseInputGrad } from '../../src/backend/kernels/depthwise-backprop-input';
import { convGeometry, type PadAttr } from '../../src/backend/kernels/geometry';
import {
  referenceKernel,
  registerTrainingKernels,
  resetTrainingKernelStats,
  restoreStockKernels,
  TRAINING_KERNEL_NAMES,
  trainingKernelStats,
  type TrainingKernelName,
} from '../../src/backend/training-kernels';

/**
 * Every result is compared with the stock pure-JS cpu kernel (the reference) within
 *   max |ours - reference| <= TOLERANCE * (1 + max |reference|),
 * a bound on float32 re-association error: the compositions sum the same products in another order.
 */
const TOLERANCE = 1e-4;

type Backend = 'wasm' | 'cpu';

async function use(backend: Backend): Promise<void> {
  assert.ok(await tf.setBackend(backend), `the ${backend} backend initialises`);
}

/** Host copies, so that the same numbers can be re-created on either backend. */
interface HostTensor {
  values: Float32Array;
  shape: number[];
}

function host(t: tf.Tensor): HostTensor {
  return { values: t.dataSync() as Float32Array, shape: [...t.shape] };
}

/** Runs fn in a scope and copies its tensor to the host; nothing stays allocated. */
function hostOf(fn: () => tf.Tensor): HostTensor {
  const t = tf.tidy(fn);
  const h = host(t);
  t.dispose();
  return h;
}

let seed = 1000;
function randomHost(shape: number[]): HostTensor {
  return hostOf(() => tf.randomNormal(shape, 0, 1, 'float32', seed++));
}

function onCurrentBackend(inputs: Record<string, HostTensor>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, h] of Object.entries(inputs)) out[name] = tf.tensor(h.values, h.shape);
  return out;
}

function errorBound(reference: Float32Array, got: Float32Array): { err: number; bound: number } {
  assert.equal(got.length, reference.length, 'same number of elements');
  let err = 0;
  let max = 0;
  for (let i = 0; i < reference.length; i++) {
    max = Math.max(max, Math.abs(reference[i]));
    err = Math.max(err, Math.abs(reference[i] - got[i]));
  }
  return { err, bound: TOLERANCE * (1 + max) };
}

function assertClose(reference: Float32Array, got: Float32Array, what: string): void {
  const { err, bound } = errorBound(reference, got);
  assert.ok(Number.isFinite(err) && err <= bound, `${what}: max abs error ${err} exceeds ${bound}`);
}

/** The stock cpu kernel, run directly (it stays available after the cpu kernels are replaced). */
function runReference(name: TrainingKernelName, inputs: Record<string, HostTensor>, attrs: tf.NamedAttrMap): HostTensor {
  assert.equal(tf.getBackend(), 'cpu');
  const config = referenceKernel(name, 'cpu');
  assert.ok(config, `reference ${name}`);
  return hostOf(() => {
    const info = config.kernelFunc({ inputs: onCurrentBackend(inputs), attrs, backend: tf.backend() }) as tf.TensorInfo;
    return tf.engine().makeTensorFromTensorInfo(info);
  });
}

/** The kernel registered now for the current backend, through the engine as tf ops call it. */
function runRegistered(name: TrainingKernelName, inputs: Record<string, HostTensor>, attrs: tf.NamedAttrMap): HostTensor {
  return hostOf(() => tf.engine().runKernel(name, onCurrentBackend(inputs), attrs) as tf.Tensor);
}

interface Case {
  batch: number;
  height: number;
  width: number;
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  pad: PadAttr;
  dataFormat?: 'NHWC' | 'NCHW';
  dilation?: number;
}

const label = (c: Case): string =>
  `x [${c.batch},${c.height},${c.width},${c.inChannels}] k${c.kernel} s${c.stride} ${JSON.stringify(c.pad)}` +
  `${c.dataFormat === 'NCHW' ? ' NCHW' : ''}${c.dilation ? ` d${c.dilation}` : ''}`;

/** Batch 1 and 3, odd sizes, 1x1 and 3x3, strides 1 and 2, 'same' and 'valid', channel counts 3, 8, 17. */
function gridCases(): Case[] {
  const cases: Case[] = [];
  const channels = [3, 8, 17];
  for (const batch of [1, 3])
    for (const [height, width] of [
      [7, 9],
      [15, 15],
    ])
      for (const kernel of [1, 3])
        for (const stride of [1, 2])
          for (const pad of ['same', 'valid'] as const) {
            const i = cases.length;
            cases.push({ batch, height, width, kernel, stride, pad, inChannels: channels[i % 3], outChannels: channels[(i + 1) % 3] });
          }
  return cases;
}

const extraCases: Case[] = [
  // What MobileNetV2 feeds its stride-2 depthwise layers: ZeroPadding2D then 'valid' (here as explicit pads).
  { batch: 2, height: 8, width: 8, inChannels: 5, outChannels: 4, kernel: 3, stride: 2, pad: [[0, 0], [0, 1], [0, 1], [0, 0]] },
  // Explicit pads larger than the filter: the input gradient needs a crop.
  { batch: 2, height: 9, width: 8, inChannels: 4, outChannels: 6, kernel: 3, stride: 2, pad: [[0, 0], [3, 4], [0, 5], [0, 0]] },
  { batch: 2, height: 10, width: 7, inChannels: 6, outChannels: 5, kernel: 3, stride: 3, pad: 'same' },
  { batch: 1, height: 6, width: 6, inChannels: 3, outChannels: 4, kernel: 2, stride: 2, pad: 'valid' },
];

const nchwCases: Case[] = [
  { batch: 2, height: 7, width: 9, inChannels: 3, outChannels: 8, kernel: 3, stride: 2, pad: 'same', dataFormat: 'NCHW' },
  { batch: 1, height: 7, width: 7, inChannels: 8, outChannels: 5, kernel: 1, stride: 1, pad: 'valid', dataFormat: 'NCHW' },
];

/** Inputs and attributes of one kernel call for one case. */
function callFor(name: TrainingKernelName, c: Case): { inputs: Record<string, HostTensor>; attrs: tf.NamedAttrMap } {
  const depthwise = name.startsWith('Depthwise');
  const nhwc = [c.batch, c.height, c.width, c.inChannels];
  const filterShape = depthwise ? [c.kernel, c.kernel, c.inChannels, 1] : [c.kernel, c.kernel, c.inChannels, c.outChannels];
  const info = tf.backend_util.computeConv2DInfo(
    nhwc as [number, number, number, number],
    filterShape as [number, number, number, number],
    c.stride,
    c.dilation ?? 1,
    c.pad,
    undefined,
    depthwise,
  );
  const dyNHWC = [c.batch, info.outHeight, info.outWidth, info.outChannels];
  const nchw = c.dataFormat === 'NCHW';
  const layout = (s: number[]): number[] => (nchw ? [s[0], s[3], s[1], s[2]] : s);
  const pad = nchw && Array.isArray(c.pad) ? [c.pad[0], c.pad[3], c.pad[1], c.pad[2]] : c.pad;
  const common = depthwise
    ? { strides: c.stride, pad, dilations: c.dilation ?? 1 }
    : { strides: c.stride, pad, dataFormat: c.dataFormat ?? 'NHWC' };
  const x = randomHost(layout(nhwc));
  const dy = randomHost(layout(dyNHWC));
  const filter = randomHost(filterShape);
  if (name.endsWith('Filter')) return { inputs: { x, dy }, attrs: { ...common, filterShape } as unknown as tf.NamedAttrMap };
  return { inputs: { dy, filter }, attrs: { ...common, inputShape: layout(nhwc) } as unknown as tf.NamedAttrMap };
}

function casesFor(name: TrainingKernelName): Case[] {
  return [...gridCases(), ...extraCases, ...(name.startsWith('Depthwise') ? [] : nchwCases)];
}

describe('training kernels: registration', () => {
  test('wasm lacks three of the four gradient kernels before registration', () => {
    for (const name of TRAINING_KERNEL_NAMES) {
      const has = tf.getKernel(name, 'wasm') != null;
      assert.equal(has, name === 'Conv2DBackpropInput', `${name} on stock wasm`);
    }
  });

  test('stock wasm cannot backpropagate through conv2d', async () => {
    await use('wasm');
    const x = tf.ones([1, 5, 5, 2]);
    const w = tf.ones([1, 1, 2, 3]);
    assert.throws(() => tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'valid')))(w), /Conv2DBackpropFilter/);
    tf.dispose([x, w]);
  });

  test('registration is idempotent and keeps the stock kernels as references', () => {
    const stockCpu = TRAINING_KERNEL_NAMES.map((name) => tf.getKernel(name, 'cpu'));
    registerTrainingKernels('wasm');
    registerTrainingKernels('cpu');
    const first = TRAINING_KERNEL_NAMES.map((name) => [tf.getKernel(name, 'wasm'), tf.getKernel(name, 'cpu')]);
    registerTrainingKernels('wasm');
    registerTrainingKernels('cpu');
    TRAINING_KERNEL_NAMES.forEach((name, i) => {
      assert.equal(tf.getKernel(name, 'wasm'), first[i][0], `${name} wasm unchanged by a second call`);
      assert.equal(tf.getKernel(name, 'cpu'), first[i][1], `${name} cpu unchanged by a second call`);
      assert.notEqual(first[i][1], stockCpu[i], `${name} replaced on cpu`);
      assert.equal(referenceKernel(name, 'cpu')?.kernelFunc, stockCpu[i].kernelFunc, `${name} cpu reference is the stock kernel`);
    });
    assert.equal(referenceKernel('Conv2DBackpropFilter', 'wasm'), undefined);
  });
});

describe('training kernels: each kernel against the stock cpu kernel', () => {
  before(() => {
    registerTrainingKernels('wasm');
    registerTrainingKernels('cpu');
  });

  for (const name of TRAINING_KERNEL_NAMES) {
    test(`${name}: wasm and cpu registrations match the reference on ${casesFor(name).length} shapes`, async () => {
      resetTrainingKernelStats();
      const cases = casesFor(name);
      const calls = cases.map((c) => callFor(name, c));
      await use('cpu');
      const references = calls.map(({ inputs, attrs }) => runReference(name, inputs, attrs));
      const onCpu = calls.map(({ inputs, attrs }) => runRegistered(name, inputs, attrs));
      await use('wasm');
      const onWasm = calls.map(({ inputs, attrs }) => runRegistered(name, inputs, attrs));
      cases.forEach((c, i) => {
        assert.deepEqual(onWasm[i].shape, references[i].shape, `${label(c)}: shape`);
        assertClose(references[i].values, onWasm[i].values, `${name} wasm ${label(c)}`);
        assertClose(references[i].values, onCpu[i].values, `${name} cpu ${label(c)}`);
      });
      const stats = trainingKernelStats();
      assert.deepEqual(stats[`wasm/${name}`], { fast: cases.length, fallback: 0 }, 'every wasm call took the composition');
      if (name.endsWith('Filter')) assert.deepEqual(stats[`cpu/${name}`], { fast: cases.length, fallback: 0 }, 'every cpu call took the composition');
      else assert.ok((stats[`cpu/${name}`]?.fallback ?? 0) > 0, 'where the stock cpu kernel is as fast, cpu keeps it');
    });
  }

  test('the compositions themselves on cpu, including the cases the cpu registration leaves to the stock kernel', async () => {
    await use('cpu');
    for (const name of ['Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropInput'] as const) {
      for (const c of [...gridCases(), ...extraCases]) {
        const { inputs, attrs } = callFor(name, c);
        const reference = runReference(name, inputs, attrs);
        const got = hostOf(() => {
          const t = onCurrentBackend(inputs);
          const depthwise = name.startsWith('Depthwise');
          const g = convGeometry(attrs.inputShape as number[], t.filter.shape, c.stride, c.pad, undefined, depthwise);
          const dy = t.dy as tf.Tensor4D;
          const filter = t.filter as tf.Tensor4D;
          return depthwise ? depthwiseInputGrad(dy, filter, g, 'cpu') : conv2dInputGrad(dy, filter, g, 'cpu');
        });
        assertClose(reference.values, got.values, `${name} composition on cpu ${label(c)}`);
      }
    }
    // The filter compositions are what the cpu registration runs; call them once directly for symmetry.
    const c = extraCases[0];
    for (const name of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter'] as const) {
      const { inputs, attrs } = callFor(name, c);
      const reference = runReference(name, inputs, attrs);
      const got = hostOf(() => {
        const t = onCurrentBackend(inputs);
        const depthwise = name.startsWith('Depthwise');
        const g = convGeometry(t.x.shape, attrs.filterShape as number[], c.stride, c.pad, undefined, depthwise);
        const x = t.x as tf.Tensor4D;
        const dy = t.dy as tf.Tensor4D;
        return depthwise ? depthwiseFilterGrad(x, dy, g, 'cpu') : conv2dFilterGrad(x, dy, g, 'cpu');
      });
      assertClose(reference.values, got.values, `${name} composition on cpu ${label(c)}`);
    }
  });

  test('calls outside the compositions (dilated depthwise) fall back to the reference, also on wasm', async () => {
    resetTrainingKernelStats();
    const c: Case = { batch: 2, height: 9, width: 9, inChannels: 4, outChannels: 4, kernel: 3, stride: 1, pad: 'same', dilation: 2 };
    for (const name of ['DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'] as const) {
      const { inputs, attrs } = callFor(name, c);
      await use('cpu');
      const reference = runReference(name, inputs, attrs);
      await use('wasm');
      assertClose(reference.values, runRegistered(name, inputs, attrs).values, `${name} ${label(c)}`);
      assert.deepEqual(trainingKernelStats()[`wasm/${name}`], { fast: 0, fallback: 1 });
    }
  });
});

/** sum(relu6(depthwise3x3 stride 2 (conv1x1(x)))), the core of an inverted residual block. */
function block(x: tf.Tensor, expand: tf.Tensor, depthwise: tf.Tensor): tf.Scalar {
  const expanded = tf.conv2d(x as tf.Tensor4D, expand as tf.Tensor4D, 1, 'valid');
  return tf.sum(tf.relu6(tf.depthwiseConv2d(expanded, depthwise as tf.Tensor4D, 2, 'same')));
}

describe('training kernels: gradients end to end', () => {
  let xs: HostTensor;
  let expand: HostTensor;
  let depthwise: HostTensor;

  before(async () => {
    await use('cpu');
    xs = randomHost([2, 9, 11, 5]);
    expand = randomHost([1, 1, 5, 12]);
    depthwise = randomHost([3, 3, 12, 1]);
  });

  function gradients(): HostTensor[] {
    const [x, e, d] = [xs, expand, depthwise].map((h) => tf.tensor(h.values, h.shape));
    const grads = tf.grads(block)([x, e, d]);
    const out = grads.map(host);
    tf.dispose([x, e, d, ...grads]);
    return out;
  }

  after(() => registerTrainingKernels('cpu'));

  test('tf.grads on wasm (and on the replaced cpu kernels) equals the stock cpu gradients', async () => {
    await use('cpu');
    restoreStockKernels('cpu');
    const reference = gradients();
    registerTrainingKernels('wasm');
    registerTrainingKernels('cpu');
    const cpu = gradients();
    await use('wasm');
    const wasm = gradients();
    ['x', 'expand filter', 'depthwise filter'].forEach((what, i) => {
      assertClose(reference[i].values, wasm[i].values, `d/d ${what} on wasm`);
      assertClose(reference[i].values, cpu[i].values, `d/d ${what} on cpu`);
    });
  });

  test('under an active gradient tape, a kernel is recorded as one node, not as the ops it is made of', async () => {
    registerTrainingKernels('wasm');
    await use('wasm');
    const [x, dy, w] = [xs, randomHost([2, 9, 11, 12]), expand].map((h) => tf.tensor(h.values, h.shape));
    const attrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: w.shape } as unknown as tf.NamedAttrMap;
    let added = -1;
    let kernelOutput: Float32Array | undefined;
    const grad = tf.grad((filter: tf.Tensor) => {
      const tape = tf.engine().state.activeTape;
      const before = tape.length;
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor;
      added = tape.length - before;
      kernelOutput = dw.dataSync() as Float32Array;
      return tf.sum(tf.mul(filter, dw));
    })(w);
    assert.equal(added, 1, 'tape nodes added by one Conv2DBackpropFilter call');
    assert.ok(kernelOutput);
    assertClose(kernelOutput, grad.dataSync() as Float32Array, 'd/dw sum(w * kernel output) is the kernel output');
    tf.dispose([x, dy, w, grad]);
  });

  test('called directly with bare TensorInfos (as kernels call kernels), a kernel neither frees nor leaks its inputs', async () => {
    registerTrainingKernels('wasm');
    await use('wasm');
    const [x, dy] = [xs, randomHost([2, 9, 11, 12])].map((h) => tf.tensor(h.values, h.shape));
    const attrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [1, 1, 5, 12] } as unknown as tf.NamedAttrMap;
    const expected = hostOf(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor);
    const backend = tf.engine().backend;
    const dataIds = backend.numDataIds();
    const bare = (t: tf.Tensor): tf.TensorInfo => ({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
    const kernel = tf.getKernel('Conv2DBackpropFilter', 'wasm');
    const tensors = tf.memory().numTensors;
    const out = kernel.kernelFunc({ inputs: { x: bare(x), dy: bare(dy) }, attrs, backend }) as tf.TensorInfo;
    assert.ok(!(out instanceof tf.Tensor), 'a bare TensorInfo, like a stock kernel returns');
    assert.equal(tf.memory().numTensors, tensors, 'no engine tensor left behind');
    assert.equal(backend.numDataIds(), dataIds + 1, 'one new data id: the output');
    assert.equal(backend.refCount(out.dataId), 1, 'owned once');
    const values = backend.readSync(out.dataId) as Float32Array;
    assertClose(expected.values, values, 'same result as through the engine');
    backend.disposeData(out.dataId);
    assert.equal(backend.numDataIds(), dataIds, 'freed by the one disposeData a calling kernel would do');
    assert.deepEqual(host(x), xs, 'the input is still readable and unchanged');
    tf.dispose([x, dy]);
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    test(`no call on ${backend} leaves a tensor or data behind, on any code path, even outside any tf.tidy`, async () => {
      registerTrainingKernels(backend);
      await use(backend);
      tf.env().set('IS_TEST', true); // tfjs' own per-kernel data-id leak check
      try {
        for (const name of TRAINING_KERNEL_NAMES) {
          for (const c of [...gridCases(), ...extraCases]) {
            const { inputs, attrs } = callFor(name, c);
            const tensors = onCurrentBackend(inputs);
            const before = { tensors: tf.memory().numTensors, buffers: tf.memory().numDataBuffers, ids: tf.engine().backend.numDataIds() };
            const out = tf.engine().runKernel(name, tensors, attrs) as tf.Tensor;
            assert.equal(tf.memory().numTensors, before.tensors + 1, `${name} ${label(c)}: only the output tensor remains`);
            out.dispose();
            const afterCall = { tensors: tf.memory().numTensors, buffers: tf.memory().numDataBuffers, ids: tf.engine().backend.numDataIds() };
            assert.deepEqual(afterCall, before, `${name} ${label(c)}: back to where it started`);
            tf.dispose(Object.values(tensors));
          }
        }
      } finally {
        tf.env().set('IS_TEST', false);
      }
    });

    test(`20 repeated gradient computations on ${backend} leak no tensor and no backend data`, async () => {
      registerTrainingKernels(backend);
      await use(backend);
      const [x, e, d] = [xs, expand, depthwise].map((h) => tf.tensor(h.values, h.shape));
      const grad = tf.grads(block);
      tf.dispose(grad([x, e, d])); // warm-up: lazily created backend state
      const tensors = tf.memory().numTensors;
      const buffers = tf.memory().numDataBuffers;
      const dataIds = tf.engine().backend.numDataIds();
      const bytes = tf.memory().numBytes;
      resetTrainingKernelStats();
      // IS_TEST turns on tfjs' own per-kernel check (data ids created minus outputs must be 0).
      tf.env().set('IS_TEST', true);
      try {
        for (let i = 0; i < 20; i++) {
          tf.dispose(grad([x, e, d]));
          assert.equal(tf.memory().numTensors, tensors, `numTensors after ${i + 1} gradients`);
          assert.equal(tf.memory().numDataBuffers, buffers, `engine numDataBuffers after ${i + 1} gradients`);
          assert.equal(tf.engine().backend.numDataIds(), dataIds, `backend numDataIds after ${i + 1} gradients`);
        }
      } finally {
        tf.env().set('IS_TEST', false);
      }
      assert.equal(tf.memory().numBytes, bytes);
      const stats = trainingKernelStats();
      assert.equal(stats[`${backend}/Conv2DBackpropFilter`]?.fast, 20);
      assert.equal(stats[`${backend}/DepthwiseConv2dNativeBackpropFilter`]?.fast, 20);
      tf.dispose([x, e, d]);
    });
  }
});

describe('training kernels: a MobileNet-style tf.layers model trains on wasm', () => {
  test('loss falls under optimizer.minimize, with batch norm applied in inference mode', async () => {
    registerTrainingKernels('wasm');
    await use('wasm');
    const init = (s: number) => tf.initializers.glorotUniform({ seed: s });
    const expand = tf.layers.conv2d({ filters: 12, kernelSize: 1, useBias: false, kernelInitializer: init(1) });
    const bn1 = tf.layers.batchNormalization();
    const relu1 = tf.layers.reLU({ maxValue: 6 });
    const depthwise = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: false, depthwiseInitializer: init(2) });
    const bn2 = tf.layers.batchNormalization();
    const relu2 = tf.layers.reLU({ maxValue: 6 });
    const project = tf.layers.conv2d({ filters: 8, kernelSize: 1, kernelInitializer: init(3) });
    const pool = tf.layers.globalAveragePooling2d({});
    const head = tf.layers.dense({ units: 3, kernelInitializer: init(4) });
    const inference = { training: false };
    const forward = (x: tf.Tensor): tf.Tensor => {
      let h = relu1.apply(bn1.apply(expand.apply(x), inference)) as tf.Tensor;
      h = relu2.apply(bn2.apply(depthwise.apply(h), inference)) as tf.Tensor;
      return head.apply(pool.apply(project.apply(h))) as tf.Tensor;
    };

    const x = tf.tidy(() => tf.randomNormal([12, 9, 9, 4], 0, 1, 'float32', 7));
    const labels = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], 'int32'), 3));
    const loss = (): tf.Scalar => tf.losses.softmaxCrossEntropy(labels, forward(x)) as tf.Scalar;
    tf.dispose(tf.tidy(() => forward(x))); // builds the layers
    const movingStats = [bn1, bn2].flatMap((bn) => bn.getWeights().slice(2).map((w) => w.dataSync().slice()));

    resetTrainingKernelStats();
    const optimizer = tf.train.adam(0.02);
    const losses: number[] = [];
    for (let step = 0; step < 25; step++) {
      const value = optimizer.minimize(loss, true) as tf.Scalar;
      losses.push(value.dataSync()[0]);
      value.dispose();
    }
    assert.ok(losses.every(Number.isFinite), `finite losses ${losses}`);
    assert.ok(losses[losses.length - 1] < 0.5 * losses[0], `loss fell from ${losses[0]} to ${losses[losses.length - 1]}`);
    const stats = trainingKernelStats();
    for (const name of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput']) {
      assert.ok((stats[`wasm/${name}`]?.fast ?? 0) > 0, `${name} ran on wasm`);
    }
    const after = [bn1, bn2].flatMap((bn) => bn.getWeights().slice(2).map((w) => w.dataSync().slice()));
    assert.deepEqual(after, movingStats, 'inference-mode batch norm leaves its moving statistics alone');
    optimizer.dispose();
    tf.dispose([x, labels]);
  });
});
