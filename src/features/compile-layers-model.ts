import * as tf from '@tensorflow/tfjs';
import { foldBatchNorm, type BatchNormWeights, type ConvWeights } from './fold-batch-norm';

/**
 * A LayersModel compiled for inference: the same function as model.predict, run as fewer, fused
 * ops. Each Conv2D / DepthwiseConv2D becomes one tf.fused call that also does the
 * BatchNormalization after it (folded into kernel and bias), the activation after that (relu,
 * relu6 included, and the others tf.fused knows) and a ZeroPadding2D before it (as the
 * convolution's own padding, where that is the same computation). Every other layer runs its own
 * apply() in inference mode, so any LayersModel compiles.
 *
 * Ownership: the compiled model owns the prepared (folded) weights and frees them in dispose();
 * layers that fall back read the model's own weights, so the model must outlive it.
 */
export interface CompiledModel {
  /** Same inputs and outputs as model.predict (one input; several outputs give an array). Call inside tf.tidy. */
  run(input: tf.Tensor): tf.Tensor | tf.Tensor[];
  readonly summary: CompileSummary;
  dispose(): void;
}

export interface CompileSummary {
  fusedConvolutions: number;
  foldedBatchNorms: number;
  fusedActivations: number;
  mergedPaddings: number;
  /** Layers run through their own apply(), by class name. */
  fallbackLayers: Record<string, number>;
}

type Activation = 'linear' | 'relu' | 'relu6' | 'elu' | 'sigmoid';
const fusableActivations = new Set<string>(['linear', 'relu', 'relu6', 'elu', 'sigmoid']);

/** One call of a layer in the model's graph (structural view of tfjs-layers' Node). */
interface GraphNode {
  layer: tf.layers.Layer;
  inputs: tf.SymbolicTensor[];
  outputs: tf.SymbolicTensor[];
  callArgs: Record<string, unknown>;
}

interface LayerNode {
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
  callArgs?: Record<string, unknown>;
}

/** What a step computes from the values of its input tensor ids. */
interface Step {
  inputs: number[];
  outputs: number[];
  compute(values: tf.Tensor[]): tf.Tensor | tf.Tensor[];
}

function nodeOf(tensor: tf.SymbolicTensor): GraphNode {
  const layer = tensor.sourceLayer as tf.layers.Layer;
  const node = (layer as unknown as { inboundNodes: LayerNode[] }).inboundNodes[tensor.nodeIndex];
  return { layer, inputs: node.inputTensors, outputs: node.outputTensors, callArgs: node.callArgs ?? {} };
}

/** The calls that lead from the model's inputs to its outputs, each after those it reads. */
function graphNodes(model: tf.LayersModel): GraphNode[] {
  const inputIds = new Set(model.inputs.map((t) => t.id));
  const visited = new Set<number>();
  const ordered: GraphNode[] = [];
  const visit = (tensor: tf.SymbolicTensor): void => {
    if (inputIds.has(tensor.id)) return;
    const node = nodeOf(tensor);
    const key = node.outputs[0].id;
    if (visited.has(key)) return;
    visited.add(key);
    node.inputs.forEach(visit);
    ordered.push(node);
  };
  model.outputs.forEach(visit);
  return ordered;
}

function weightNamed(layer: tf.layers.Layer, suffix: string): Float32Array | undefined {
  const variable = layer.weights.find((w) => (w.originalName ?? w.name).endsWith(`/${suffix}`) || w.name.split('/').at(-1)?.startsWith(suffix));
  return variable ? (variable.read().dataSync() as Float32Array).slice() : undefined;
}

function config(layer: tf.layers.Layer): Record<string, unknown> {
  return layer.getConfig() as Record<string, unknown>;
}

function isConvolution(layer: tf.layers.Layer): boolean {
  const name = layer.getClassName();
  return (name === 'Conv2D' || name === 'DepthwiseConv2D') && config(layer).dataFormat !== 'channelsFirst';
}

function activationOf(layer: tf.layers.Layer): Activation | undefined {
  const name = layer.getClassName();
  const c = config(layer);
  if (name === 'ReLU') {
    if (c.maxValue == null) return 'relu';
    return c.maxValue === 6 ? 'relu6' : undefined;
  }
  if (name === 'Activation' && typeof c.activation === 'string' && fusableActivations.has(c.activation)) return c.activation as Activation;
  return undefined;
}

function foldableBatchNorm(layer: tf.layers.Layer): boolean {
  if (layer.getClassName() !== 'BatchNormalization') return false;
  const axis = config(layer).axis;
  return axis === -1 || axis === 3;
}

function batchNormWeights(layer: tf.layers.Layer): BatchNormWeights {
  const c = config(layer);
  return {
    gamma: c.scale === false ? undefined : weightNamed(layer, 'gamma'),
    beta: c.center === false ? undefined : weightNamed(layer, 'beta'),
    mean: weightNamed(layer, 'moving_mean')!,
    variance: weightNamed(layer, 'moving_variance')!,
    epsilon: c.epsilon as number,
  };
}

function convWeights(layer: tf.layers.Layer, depthwise: boolean): ConvWeights {
  const variable = layer.weights.find((w) => /(depthwise_)?kernel/.test(w.name.split('/').at(-1) ?? ''))!;
  const kernelShape = variable.shape as number[];
  const kernel = weightNamed(layer, depthwise ? 'depthwise_kernel' : 'kernel')!;
  const channels = depthwise ? kernelShape[2] * kernelShape[3] : kernelShape[3];
  const bias = (config(layer).useBias === false ? undefined : weightNamed(layer, 'bias')) ?? new Float32Array(channels);
  return { kernel, kernelShape, bias };
}

/** Pads [[top, bottom], [left, right]] of a ZeroPadding2D. */
function paddingOf(layer: tf.layers.Layer): [[number, number], [number, number]] {
  return (layer as unknown as { padding: [[number, number], [number, number]] }).padding;
}

/**
 * Whether a 'valid' convolution of an input padded by (before, after) along one dimension of
 * size n computes what the 'same' convolution of the unpadded input does: same output size, and
 * the same rows read from the same offset (TensorFlow's 'same' puts the odd pixel after).
 */
export function paddingActsAsSame(n: number, kernel: number, stride: number, dilation: number, before: number, after: number): boolean {
  const span = (kernel - 1) * dilation + 1;
  const validOut = Math.floor((n + before + after - span) / stride) + 1;
  const sameOut = Math.ceil(n / stride);
  const total = Math.max((sameOut - 1) * stride + span - n, 0);
  return validOut === sameOut && before === Math.floor(total / 2);
}

type Pair = [number, number];
const pair = (v: unknown): Pair => (Array.isArray(v) ? [v[0], v[1]] : [v as number, v as number]);

/** One fused convolution: [ZeroPadding2D] -> Conv2D | DepthwiseConv2D -> [BatchNormalization] -> [activation]. */
interface ConvChain {
  padding?: GraphNode;
  conv: GraphNode;
  batchNorm?: GraphNode;
  activation?: { node?: GraphNode; name: Activation };
}

function convStep(chain: ConvChain, owned: tf.Tensor[]): Step {
  const { conv } = chain;
  const depthwise = conv.layer.getClassName() === 'DepthwiseConv2D';
  const c = config(conv.layer);
  const raw = convWeights(conv.layer, depthwise);
  const weights = chain.batchNorm ? foldBatchNorm(raw, batchNormWeights(chain.batchNorm.layer), depthwise) : raw;
  // Kept: compiling may happen inside a caller's tf.tidy, and these live until dispose().
  const filter = tf.keep(tf.tensor4d(weights.kernel, weights.kernelShape as [number, number, number, number]));
  const bias = tf.keep(tf.tensor1d(weights.bias));
  owned.push(filter, bias);
  const strides = pair(c.strides);
  const dilations = pair(c.dilationRate ?? 1);
  const [kh, kw] = weights.kernelShape;
  const activation = chain.activation?.name ?? 'linear';
  const explicit = chain.padding ? paddingOf(chain.padding.layer) : undefined;
  const ownPad = c.padding as 'valid' | 'same';
  const fused = (x: tf.Tensor4D, pad: 'valid' | 'same'): tf.Tensor4D =>
    depthwise
      ? tf.fused.depthwiseConv2d({ x, filter, strides, pad, dilations, bias, activation })
      : tf.fused.conv2d({ x, filter, strides, pad, dilations, bias, activation });
  const input = chain.padding ? chain.padding.inputs[0] : conv.inputs[0];
  const output = (chain.activation?.node ?? chain.batchNorm ?? conv).outputs[0];
  return {
    inputs: [input.id],
    outputs: [output.id],
    compute: ([value]) => {
      const x = value as tf.Tensor4D;
      if (!explicit) return fused(x, ownPad);
      const [height, width] = [x.shape[1], x.shape[2]];
      const asSame =
        paddingActsAsSame(height, kh, strides[0], dilations[0], ...explicit[0]) && paddingActsAsSame(width, kw, strides[1], dilations[1], ...explicit[1]);
      if (asSame) return fused(x, 'same');
      const padded = tf.pad(x, [[0, 0], explicit[0], explicit[1], [0, 0]]);
      return fused(padded, 'valid');
    },
  };
}

function fallbackStep(node: GraphNode): Step {
  const kwargs = { ...node.callArgs, training: false };
  return {
    inputs: node.inputs.map((t) => t.id),
    outputs: node.outputs.map((t) => t.id),
    compute: (values) => node.layer.apply(values.length === 1 ? values[0] : values, kwargs) as tf.Tensor | tf.Tensor[],
  };
}

/** Tensors read by each tensor id's consumers (model outputs count as a reader). */
function readersOf(nodes: GraphNode[], model: tf.LayersModel): Map<number, GraphNode[]> {
  const readers = new Map<number, GraphNode[]>();
  for (const node of nodes) for (const t of node.inputs) readers.set(t.id, [...(readers.get(t.id) ?? []), node]);
  for (const t of model.outputs) readers.set(t.id, [...(readers.get(t.id) ?? []), undefined as unknown as GraphNode]);
  return readers;
}

/** The chain around each convolution, where each link is the only reader of the one before. */
function convChains(nodes: GraphNode[], model: tf.LayersModel): Map<GraphNode, ConvChain> {
  const readers = readersOf(nodes, model);
  const soleReader = (node: GraphNode): GraphNode | undefined => {
    if (node.outputs.length !== 1) return undefined;
    const list = readers.get(node.outputs[0].id) ?? [];
    return list.length === 1 ? list[0] : undefined;
  };
  const producer = new Map<number, GraphNode>();
  for (const node of nodes) for (const t of node.outputs) producer.set(t.id, node);
  const chains = new Map<GraphNode, ConvChain>();
  for (const conv of nodes) {
    if (!isConvolution(conv.layer) || conv.inputs.length !== 1) continue;
    const c = config(conv.layer);
    const chain: ConvChain = { conv };
    const before = producer.get(conv.inputs[0].id);
    if (before && before.layer.getClassName() === 'ZeroPadding2D' && c.padding === 'valid' && soleReader(before) === conv && config(before.layer).dataFormat !== 'channelsFirst') {
      chain.padding = before;
    }
    const ownActivation = typeof c.activation === 'string' ? c.activation : 'linear';
    if (ownActivation === 'linear') {
      let last = conv;
      const next = soleReader(conv);
      if (next && foldableBatchNorm(next.layer)) {
        chain.batchNorm = next;
        last = next;
      }
      const after = soleReader(last);
      const name = after ? activationOf(after.layer) : undefined;
      if (after && name) chain.activation = { node: after, name };
    } else if (fusableActivations.has(ownActivation)) {
      chain.activation = { name: ownActivation as Activation };
    } else continue; // e.g. softmax: the layer's own apply keeps it exact
    chains.set(conv, chain);
  }
  return chains;
}

function summarize(chains: ConvChain[], fallbacks: GraphNode[]): CompileSummary {
  const fallbackLayers: Record<string, number> = {};
  for (const node of fallbacks) fallbackLayers[node.layer.getClassName()] = (fallbackLayers[node.layer.getClassName()] ?? 0) + 1;
  return {
    fusedConvolutions: chains.length,
    foldedBatchNorms: chains.filter((c) => c.batchNorm).length,
    fusedActivations: chains.filter((c) => c.activation && c.activation.name !== 'linear').length,
    mergedPaddings: chains.filter((c) => c.padding).length,
    fallbackLayers,
  };
}

/** Disposes a value once no later step reads it (the input and outputs excepted), so activations do not pile up. */
function lastReads(steps: Step[]): Map<number, number> {
  const last = new Map<number, number>();
  steps.forEach((step, index) => step.inputs.forEach((id) => last.set(id, index)));
  return last;
}

/** Compiles `model` (one input) for inference. Weights are read now: recompile after they change. */
export function compileLayersModel(model: tf.LayersModel): CompiledModel {
  if (model.inputs.length !== 1) throw new Error(`compileLayersModel expects one input; ${model.name} has ${model.inputs.length}`);
  const nodes = graphNodes(model);
  const chains = convChains(nodes, model);
  const absorbed = new Set<GraphNode>();
  for (const chain of chains.values()) [chain.padding, chain.batchNorm, chain.activation?.node].forEach((n) => n && absorbed.add(n));
  const owned: tf.Tensor[] = [];
  const steps: Step[] = [];
  const fallbacks: GraphNode[] = [];
  try {
    for (const node of nodes) {
      if (absorbed.has(node) || node.layer.getClassName() === 'InputLayer') continue;
      const chain = chains.get(node);
      if (chain) steps.push(convStep(chain, owned));
      else {
        steps.push(fallbackStep(node));
        fallbacks.push(node);
      }
    }
  } catch (error) {
    tf.dispose(owned);
    throw error;
  }
  const inputId = model.inputs[0].id;
  const inputShape = model.inputs[0].shape;
  const outputIds = model.outputs.map((t) => t.id);
  const last = lastReads(steps);
  const keep = new Set([inputId, ...outputIds]);
  let disposed = false;
  return {
    summary: summarize([...chains.values()], fallbacks),
    run(input) {
      if (disposed) throw new Error(`the compiled ${model.name} was disposed`);
      // Convolutions run at any size: check what predict checks, so a wrong input fails as it would there.
      if (input.rank !== inputShape.length || inputShape.some((d, i) => d !== null && d !== input.shape[i])) {
        throw new Error(`${model.name} expects an input of shape [${inputShape.map((d) => d ?? 'any')}] but got one of shape [${input.shape}]`);
      }
      const values = new Map<number, tf.Tensor>([[inputId, input]]);
      steps.forEach((step, index) => {
        const result = step.compute(step.inputs.map((id) => values.get(id)!));
        const outputs = Array.isArray(result) ? result : [result];
        step.outputs.forEach((id, i) => values.set(id, outputs[i]));
        for (const id of step.inputs) {
          if (last.get(id) !== index || keep.has(id)) continue;
          const value = values.get(id)!;
          values.delete(id);
          // A layer may hand its input back (Dropout at inference): only free what nothing else holds.
          if (![...values.values()].includes(value)) value.dispose();
        }
      });
      const outputs = outputIds.map((id) => values.get(id)!);
      return outputs.length === 1 ? outputs[0] : outputs;
    },
    dispose() {
      disposed = true;
      tf.dispose(owned);
    },
  };
}
