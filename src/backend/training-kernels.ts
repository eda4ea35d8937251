import * as tf from '@tensorflow/tfjs';
import { conv2dFilterGrad } from './kernels/conv2d-backprop-filter';
import { conv2dInputGrad } from './kernels/conv2d-backprop-input';
import { depthwiseFilterGrad } from './kernels/depthwise-backprop-filter';
import { depthwiseInputGrad } from './kernels/depthwise-backprop-input';
import {
  asShape4,
  convGeometry,
  dilationsAreOne,
  explicitPadsReproduceOutput,
  padToNHWC,
  type ConvGeometry,
  type PadAttr,
  type RoundingMode,
} from './kernels/geometry';
import { runOnCpuReference } from './kernels/host-reference';
import { registerBatchNormGradient } from './batch-norm-gradient';
import { asTensor, detach } from './kernels/kernel-result';
import { registerRowGather, restoreStockGather } from './kernels/row-gather';
import { registerTransposedMatMul, restoreStockMatMul } from './kernels/transposed-matmul';

/**
 * Gradient kernels for convolutions, for the backends that have none or a slow one.
 *
 * The wasm backend registers no Conv2DBackpropFilter and no depthwise gradient kernels (tf.grad through
 * conv2d/depthwiseConv2d throws there) and its Conv2DBackpropInput is a naive loop; the cpu backend's
 * Conv2DBackpropFilter is ~75x slower than the equivalent matrix product. The kernels registered here are
 * compositions of operations that are fast on both backends: plain matMul (after an explicit transpose),
 * conv2d and depthwiseConv2d (XNNPACK on wasm), rank-3 pads, elementwise products. Strided windows of a
 * tensor (conv taps) are one-hot depthwise convolutions, because slices are slow element-by-element code
 * on both backends.
 *
 * Memory: each kernel function runs tf ops inside tf.tidy, which frees every intermediate, and hands the
 * result over the way a stock kernel does: as a bare TensorInfo owning exactly one backend reference
 * (see detach()). Through the engine (runKernelFunc -> makeTensorFromTensorInfo) that becomes one tracked
 * Tensor, so nothing is tracked twice or freed twice; a kernel calling it directly with TensorInfos (as
 * kernels call kernels) gets data it frees with backend.disposeData, with no engine Tensor left behind.
 * (Returning the Tensor itself also works through the engine, which passes Tensor outputs through as is,
 * but leaves an engine-tracked Tensor to a direct caller.) The engine raises kernelDepth around a kernel, so
 * isTapeOn() is false for the ops inside: a gradient tape records only the gradient kernel itself.
 */

export const TRAINING_KERNEL_NAMES = [
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
] as const;
export type TrainingKernelName = (typeof TRAINING_KERNEL_NAMES)[number];
export type TrainingBackend = 'wasm' | 'cpu';

export interface KernelCallStats {
  /** Calls computed by the fast composition. */
  fast: number;
  /** Calls handed to the stock kernel (or, on wasm when there is none, to the cpu reference on host copies). */
  fallback: number;
}

type Run = (inputs: Record<string, tf.Tensor>) => tf.Tensor;
/** A run function, or the reason the fast path does not handle this call. */
type Plan = Run | string;

const registered = new Set<TrainingBackend>();
const originals = new Map<string, tf.KernelConfig | undefined>();
const setUpOriginals = new WeakMap<object, Set<string>>();
const stats = new Map<string, KernelCallStats>();

const key = (backend: string, name: string): string => `${backend}/${name}`;

/**
 * Until this module replaces a backend's kernels the registry holds the stock ones: remember them (once
 * found, for good: after restoreStockKernels the registry holds a wrapper of the same kernel).
 */
function captureOriginals(backend: TrainingBackend): void {
  if (registered.has(backend)) return;
  for (const name of TRAINING_KERNEL_NAMES) {
    const k = key(backend, name);
    if (originals.get(k) == null) originals.set(k, tf.getKernel(name, backend) ?? undefined);
  }
}

/**
 * The kernel that was registered under `name` for `backendName` before registerTrainingKernels replaced it
 * (for 'cpu', the pure-JS reference implementation), or undefined if there was none (wasm has no
 * Conv2DBackpropFilter nor depthwise gradients).
 */
export function referenceKernel(name: TrainingKernelName, backendName: TrainingBackend = 'cpu'): tf.KernelConfig | undefined {
  captureOriginals(backendName);
  const original = originals.get(key(backendName, name));
  return original == null ? undefined : withLazySetup(original);
}

/**
 * A stock wasm kernel unregistered before the wasm backend initialised never had its setupFunc run (the
 * backend sets up the kernels registered at that moment): run it on first use.
 */
function withLazySetup(config: tf.KernelConfig): tf.KernelConfig {
  const { setupFunc } = config;
  if (setupFunc == null) return config;
  return {
    ...config,
    kernelFunc: (args) => {
      const done = setUpOriginals.get(args.backend) ?? new Set<string>();
      if (!done.has(config.kernelName)) {
        setupFunc(args.backend);
        done.add(config.kernelName);
        setUpOriginals.set(args.backend, done);
      }
      return config.kernelFunc(args);
    },
  };
}

/** How many calls of each kernel took the fast path and how many fell back, per backend, since the last reset. */
export function trainingKernelStats(): Record<string, KernelCallStats> {
  const out: Record<string, KernelCallStats> = {};
  for (const [k, v] of stats) out[k] = { ...v };
  return out;
}

export function resetTrainingKernelStats(): void {
  stats.clear();
}

function count(backend: TrainingBackend, name: TrainingKernelName, path: keyof KernelCallStats): void {
  const k = key(backend, name);
  const s = stats.get(k) ?? { fast: 0, fallback: 0 };
  s[path]++;
  stats.set(k, s);
}

const nhwcOf = (shape: readonly number[], dataFormat: string | undefined): number[] =>
  dataFormat === 'NCHW' ? [shape[0], shape[2], shape[3], shape[1]] : [...shape];
const toNHWC = (t: tf.Tensor, dataFormat: string | undefined): tf.Tensor4D =>
  (dataFormat === 'NCHW' ? tf.transpose(t, [0, 2, 3, 1]) : t) as tf.Tensor4D;
const fromNHWC = (t: tf.Tensor4D, dataFormat: string | undefined): tf.Tensor =>
  dataFormat === 'NCHW' ? tf.transpose(t, [0, 3, 1, 2]) : t;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

interface CommonAttrs {
  strides: number | [number, number];
  pad: PadAttr;
  dimRoundingMode?: RoundingMode;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
}

/** Resolves and validates the geometry, or says why the fast path does not apply. */
function geometryOrReason(
  inShapeNHWC: number[],
  filterShape: readonly number[],
  attrs: CommonAttrs,
  depthwise: boolean,
  dyShapeNHWC: number[],
): ConvGeometry | string {
  if (!dilationsAreOne(attrs.dilations)) return 'dilations other than 1';
  if (depthwise && filterShape[3] !== 1) return 'channel multiplier other than 1';
  let g: ConvGeometry;
  try {
    g = convGeometry(inShapeNHWC, filterShape, attrs.strides, padToNHWC(attrs.pad, attrs.dataFormat), attrs.dimRoundingMode, depthwise);
  } catch (error) {
    return `unsupported geometry (${(error as Error).message})`;
  }
  if (!explicitPadsReproduceOutput(g)) return 'padding/rounding mode not reproducible with explicit pads';
  if (!sameShape(dyShapeNHWC, [g.batch, g.outHeight, g.outWidth, g.outChannels])) return 'dy shape does not match the convolution';
  return g;
}

function plan(name: TrainingKernelName, inputs: tf.NamedTensorInfoMap, rawAttrs: tf.NamedAttrMap, backend: TrainingBackend): Plan {
  const attrs = rawAttrs as unknown as CommonAttrs & {
    filterShape?: [number, number, number, number];
    inputShape?: [number, number, number, number];
  };
  for (const t of Object.values(inputs)) if (t != null && t.dtype !== 'float32') return `dtype ${t.dtype}`;
  const format = attrs.dataFormat;
  if (format != null && format !== 'NHWC' && format !== 'NCHW') return `data format ${String(format)}`;
  const input = (n: string): tf.TensorInfo => {
    const t = inputs[n];
    if (t == null) throw new Error(`${name}: missing input ${n}`);
    return t;
  };
  switch (name) {
    case 'Conv2DBackpropFilter': {
      const [x, dy] = [input('x'), input('dy')];
      const g = geometryOrReason(nhwcOf(x.shape, format), asShape4(attrs.filterShape ?? [], 'filterShape'), attrs, false, nhwcOf(dy.shape, format));
      if (typeof g === 'string') return g;
      return (t) => conv2dFilterGrad(toNHWC(t.x, format), toNHWC(t.dy, format), g, backend);
    }
    case 'Conv2DBackpropInput': {
      const [dy, filter] = [input('dy'), input('filter')];
      const g = geometryOrReason(nhwcOf(attrs.inputShape ?? [], format), filter.shape, attrs, false, nhwcOf(dy.shape, format));
      if (typeof g === 'string') return g;
      if (backend === 'cpu' && !cpuUsesComposition(name, g)) return 'the stock cpu kernel is as fast here';
      return (t) => fromNHWC(conv2dInputGrad(toNHWC(t.dy, format), t.filter as tf.Tensor4D, g, backend), format);
    }
    case 'DepthwiseConv2dNativeBackpropFilter': {
      const [x, dy] = [input('x'), input('dy')];
      const g = geometryOrReason([...x.shape], asShape4(attrs.filterShape ?? [], 'filterShape'), { ...attrs, dataFormat: 'NHWC' }, true, [...dy.shape]);
      if (typeof g === 'string') return g;
      return (t) => depthwiseFilterGrad(t.x as tf.Tensor4D, t.dy as tf.Tensor4D, g, backend);
    }
    case 'DepthwiseConv2dNativeBackpropInput': {
      const [dy, filter] = [input('dy'), input('filter')];
      const g = geometryOrReason([...(attrs.inputShape ?? [])], filter.shape, { ...attrs, dataFormat: 'NHWC' }, true, [...dy.shape]);
      if (typeof g === 'string') return g;
      if (backend === 'cpu' && !cpuUsesComposition(name, g)) return 'the stock cpu kernel is as fast here';
      return (t) => depthwiseInputGrad(t.dy as tf.Tensor4D, t.filter as tf.Tensor4D, g, backend);
    }
  }
}

/**
 * On cpu, the stock input-gradient kernels are direct loops that cost about what a forward convolution
 * costs, and the compositions do not beat them except for depthwise stride 1 (a forward depthwise
 * convolution, ~2x faster); where they would need a zero-interleave (pads are slow on cpu) they are
 * slower. Measured by scripts/bench-kernels.js; the compositions are still tested on cpu.
 */
export function cpuUsesComposition(name: TrainingKernelName, g: ConvGeometry): boolean {
  if (name === 'Conv2DBackpropInput') return false;
  if (name === 'DepthwiseConv2dNativeBackpropInput') return g.strideHeight === 1 && g.strideWidth === 1;
  return true;
}

function fallback(name: TrainingKernelName, backend: TrainingBackend, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | tf.TensorInfo[] {
  const own = referenceKernel(name, backend);
  if (own != null) return own.kernelFunc(args);
  const reference = originals.get(key('cpu', name));
  if (reference == null) throw new Error(`${name}: no fast path for this call and no reference kernel to fall back to`);
  return detach(runOnCpuReference(reference, args.inputs, args.attrs, args.backend as tf.KernelBackend), args.backend as tf.KernelBackend);
}

function kernelFuncFor(name: TrainingKernelName, backend: TrainingBackend): tf.KernelFunc {
  return (args) => {
    const p = plan(name, args.inputs, args.attrs ?? {}, backend);
    if (typeof p === 'string') {
      count(backend, name, 'fallback');
      return fallback(name, backend, args);
    }
    count(backend, name, 'fast');
    const result = tf.tidy(() => {
      const tensors: Record<string, tf.Tensor> = {};
      for (const [inputName, info] of Object.entries(args.inputs)) if (info != null) tensors[inputName] = asTensor(info);
      const out = p(tensors);
      // Never hand an input back as the output.
      return Object.values(tensors).includes(out) ? out.clone() : out;
    });
    return detach(result, args.backend as tf.KernelBackend);
  };
}

/**
 * Registers (wasm) or replaces (cpu) the four convolution-gradient kernels with fast compositions.
 * Idempotent. The kernels they replace stay available through referenceKernel(); calls the compositions do
 * not cover (dilations, channel multiplier > 1, and on cpu the cases where the stock loop is as fast) go
 * to the stock kernel, or on wasm where there is none, to the cpu reference run on host copies.
 */
export function registerTrainingKernels(backendName: TrainingBackend): void {
  if (registered.has(backendName)) return;
  registerBatchNormGradient();
  if (backendName === 'wasm') {
    // Its stock kernels must be registered before ours, or importing it later would overwrite ours.
    require('@tensorflow/tfjs-backend-wasm');
    registerTransposedMatMul();
    registerRowGather();
  }
  captureOriginals('cpu');
  captureOriginals(backendName);
  for (const name of TRAINING_KERNEL_NAMES) {
    if (originals.get(key(backendName, name)) != null) tf.unregisterKernel(name, backendName);
    tf.registerKernel({ kernelName: name, backendName, kernelFunc: kernelFuncFor(name, backendName) });
  }
  registered.add(backendName);
}

/** Puts the stock kernels back (for benchmarks and tests). Idempotent. */
export function restoreStockKernels(backendName: TrainingBackend): void {
  if (!registered.has(backendName)) return;
  for (const name of TRAINING_KERNEL_NAMES) {
    tf.unregisterKernel(name, backendName);
    const original = referenceKernel(name, backendName);
    if (original != null) tf.registerKernel(original);
  }
  if (backendName === 'wasm') {
    restoreStockMatMul();
    restoreStockGather();
  }
  registered.delete(backendName);
}

export function trainingKernelsRegistered(backendName: TrainingBackend): boolean {
  return registered.has(backendName);
}
