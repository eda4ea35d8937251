import * as tf from '@tensorflow/tfjs';
import { DataError } from '../errors';
import type { ModelFiles } from '../models/model-files';

/** What composeGraphClassifier needs of a GraphModel base: its files and its input contract. */
export interface GraphClassifierBase {
  files: ModelFiles;
  /** Node (or "node:index") whose output are the features; the graph's single output when absent. */
  outputNode?: string;
  /** Range the base expects its RGB inputs in, e.g. [0, 1]. */
  inputRange: [number, number];
  /** Square input side in pixels. */
  inputSize: number;
}

export interface ComposedGraphClassifier {
  /** model.json: format graph-model, one weight group with one shard named GRAPH_CLASSIFIER_SHARD. */
  modelJson: tf.io.ModelJSON;
  /** Contents of that shard. */
  weightData: ArrayBuffer;
}

/** File name of the single weight shard modelJson.weightsManifest refers to. */
export const GRAPH_CLASSIFIER_SHARD = 'group1-shard1of1.bin';
/** The composed graph's input: raw RGB [0, 255] float32 images [-1, inputSize, inputSize, 3]. */
export const GRAPH_CLASSIFIER_INPUT = 'finetune/image';
/** The composed graph's only output: the head's output (probabilities for a softmax head). */
export const GRAPH_CLASSIFIER_OUTPUT = 'finetune/probabilities';

const prefix = 'finetune/';

/** A NodeDef as tfjs-converter writes it into model.json. */
interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  device?: string;
  attr?: Record<string, unknown>;
}

interface GraphFunction {
  signature?: { name?: string };
  nodeDef?: GraphNode[];
}

interface GraphDef {
  node: GraphNode[];
  library?: { function?: GraphFunction[] };
  versions?: unknown;
}

interface TensorSignature {
  name: string;
  dtype?: string;
  tensorShape?: unknown;
}

interface ModelSignature {
  inputs?: Record<string, TensorSignature>;
  outputs?: Record<string, TensorSignature>;
}

/** One weight: its manifest entry and its raw bytes (quantized weights stay quantized). */
interface Weight {
  spec: tf.io.WeightsManifestEntry;
  bytes: Uint8Array;
}

const float = { type: 'DT_FLOAT' };

/** tfjs-layers activation names and the TF ops that compute the same function. */
const activationOps: Record<string, string | null> = {
  linear: null,
  relu: 'Relu',
  relu6: 'Relu6',
  elu: 'Elu',
  selu: 'Selu',
  sigmoid: 'Sigmoid',
  tanh: 'Tanh',
  softplus: 'Softplus',
  softmax: 'Softmax',
  logSoftmax: 'LogSoftmax',
};

function encode(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function shapeProto(shape: number[]): { dim?: { size: string }[] } {
  return shape.length === 0 ? {} : { dim: shape.map((size) => ({ size: String(size) })) };
}

/** "name", "name:1" and "^name" all refer to node "name". */
function nodeNameOf(ref: string): string {
  const name = ref.startsWith('^') ? ref.slice(1) : ref;
  const colon = name.lastIndexOf(':');
  return colon > 0 && /^\d+$/.test(name.slice(colon + 1)) ? name.slice(0, colon) : name;
}

function bytesPerElement(spec: tf.io.WeightsManifestEntry): number {
  if (spec.dtype === 'string') {
    throw new DataError(
      `Weight "${spec.name}" has dtype string; composing a GraphModel with string weights is not supported (their size cannot be sliced from the manifest).`,
    );
  }
  const quantization = spec.quantization;
  if (quantization) {
    const size = { uint8: 1, uint16: 2, float16: 2 }[quantization.dtype as string];
    if (size === undefined) throw new DataError(`Weight "${spec.name}" has unknown quantization dtype "${quantization.dtype}".`);
    return size;
  }
  const size = ({ float32: 4, int32: 4, bool: 1, complex64: 8 } as Record<string, number>)[spec.dtype];
  if (size === undefined) throw new DataError(`Weight "${spec.name}" has unknown dtype "${spec.dtype}".`);
  return size;
}

/** Slices the concatenated shards into one entry per weight, by manifest order. */
function splitWeights(files: ModelFiles): Map<string, Weight> {
  const data = new Uint8Array(files.weightData);
  const weights = new Map<string, Weight>();
  let offset = 0;
  for (const spec of files.weightSpecs) {
    const size = spec.shape.reduce((product, dim) => product * dim, 1) * bytesPerElement(spec);
    if (offset + size > data.byteLength) {
      throw new DataError(`The base model's weights hold ${data.byteLength} bytes, but their manifest describes more (up to "${spec.name}").`);
    }
    weights.set(spec.name, { spec, bytes: data.subarray(offset, offset + size) });
    offset += size;
  }
  if (offset !== data.byteLength) {
    throw new DataError(`The base model's weights hold ${data.byteLength} bytes, but their manifest describes ${offset} bytes.`);
  }
  return weights;
}

function constNode(name: string, dtype: 'DT_FLOAT' | 'DT_INT32', shape: number[]): GraphNode {
  return { name, op: 'Const', attr: { value: { tensor: { dtype, tensorShape: shapeProto(shape) } }, dtype: { type: dtype } } };
}

function floatWeight(name: string, shape: number[], values: ArrayLike<number>): Weight {
  const array = Float32Array.from(values);
  return { spec: { name, shape, dtype: 'float32' }, bytes: new Uint8Array(array.buffer) };
}

function int32Weight(name: string, values: number[]): Weight {
  const array = Int32Array.from(values);
  return { spec: { name, shape: [values.length], dtype: 'int32' }, bytes: new Uint8Array(array.buffer) };
}

/** Names of the nodes (in graph order) the given references need, themselves included. */
function ancestors(nodes: Map<string, GraphNode>, refs: string[]): Set<string> {
  const seen = new Set<string>();
  const stack = refs.map(nodeNameOf);
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    const node = nodes.get(name);
    if (!node) throw new DataError(`The base graph refers to node "${name}", which it does not contain.`);
    seen.add(name);
    for (const input of node.input ?? []) stack.push(nodeNameOf(input));
  }
  return seen;
}

/** Function names a value (an attr, recursively) refers to: {func: {name}} and {list: {func: [...]}}. */
function collectFunctionRefs(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collectFunctionRefs(item, into);
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === 'func') {
        for (const func of Array.isArray(item) ? item : [item]) {
          if (func && typeof func === 'object' && typeof (func as { name?: unknown }).name === 'string') into.add((func as { name: string }).name);
        }
      }
      collectFunctionRefs(item, into);
    }
  }
}

/** The library functions the kept nodes call, transitively. */
function usedFunctions(graph: GraphDef, kept: GraphNode[]): GraphFunction[] {
  const byName = new Map((graph.library?.function ?? []).map((func) => [func.signature?.name ?? '', func]));
  const used = new Set<string>();
  const pending = new Set<string>();
  for (const node of kept) collectFunctionRefs(node.attr, pending);
  while (pending.size > 0) {
    const [name] = pending;
    pending.delete(name);
    if (used.has(name)) continue;
    used.add(name);
    const func = byName.get(name);
    if (!func) throw new DataError(`The base graph calls function "${name}", which its library does not contain.`);
    for (const node of func.nodeDef ?? []) collectFunctionRefs(node.attr, pending);
  }
  return [...used].map((name) => byName.get(name)!);
}

/** The specs in order and one buffer holding their bytes back to back. */
function packWeights(weights: Weight[]): { specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer } {
  const total = weights.reduce((sum, weight) => sum + weight.bytes.byteLength, 0);
  const data = new Uint8Array(total);
  let offset = 0;
  for (const weight of weights) {
    data.set(weight.bytes, offset);
    offset += weight.bytes.byteLength;
  }
  return { specs: weights.map((weight) => ({ ...weight.spec })), data: data.buffer };
}

/** The signature tfjs-converter applies: userDefinedMetadata.signature wins over signature. */
function signatureOf(modelJson: tf.io.ModelJSON): ModelSignature | undefined {
  const metadata = modelJson.userDefinedMetadata as { signature?: ModelSignature } | undefined;
  return (metadata?.signature ?? modelJson.signature) as ModelSignature | undefined;
}

/** Node names to suggest when a requested node does not exist: similar names first, then the last operations. */
function suggestions(graph: GraphDef, missing: string): string[] {
  const operations = graph.node.filter((node) => node.op !== 'Const').map((node) => node.name);
  const tail = nodeNameOf(missing).split('/').pop()!.toLowerCase();
  const similar = operations.filter((name) => name.split('/').pop()!.toLowerCase() === tail);
  return [...new Set([...similar, ...operations.slice(-5).reverse()])].slice(0, 6);
}

/** The reference ("node" or "node:k") of the tensor that holds the features. */
function resolveFeatureRef(graph: GraphDef, nodes: Map<string, GraphNode>, modelJson: tf.io.ModelJSON, outputNode?: string): string {
  if (outputNode !== undefined) {
    if (!nodes.has(nodeNameOf(outputNode))) {
      throw new DataError(
        `The base model has no node "${outputNode}" to take features from. ` +
          `Nodes it does have include: ${suggestions(graph, outputNode).map((name) => `"${name}"`).join(', ')}.`,
      );
    }
    return outputNode;
  }
  const signatureOutputs = Object.values(signatureOf(modelJson)?.outputs ?? {});
  if (signatureOutputs.length === 1) {
    const name = signatureOutputs[0].name;
    if (nodes.has(nodeNameOf(name))) return name.endsWith(':0') ? name.slice(0, -2) : name;
  }
  const consumed = new Set(graph.node.flatMap((node) => (node.input ?? []).map(nodeNameOf)));
  const sinks = graph.node.filter((node) => node.op !== 'Const' && !consumed.has(node.name)).map((node) => node.name);
  if (sinks.length !== 1) {
    throw new DataError(
      `The base model has ${sinks.length} outputs (${sinks.slice(0, 6).join(', ')}); name the node to take features from (outputNode).`,
    );
  }
  return sinks[0];
}

function checkInputPlaceholder(node: GraphNode, inputSize: number): void {
  const attr = (node.attr ?? {}) as { dtype?: { type?: string }; shape?: { shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean } } };
  const dtype = attr.dtype?.type;
  if (dtype !== undefined && dtype !== 'DT_FLOAT') {
    throw new DataError(`The base model's input "${node.name}" has dtype ${dtype}; composing needs a float32 image input.`);
  }
  const dims = attr.shape?.shape?.dim;
  if (!dims || attr.shape?.shape?.unknownRank) return;
  const sizes = dims.map((dim) => Number(dim.size ?? -1));
  const fits = (size: number, expected: number): boolean => size === -1 || size === expected;
  if (sizes.length !== 4 || !fits(sizes[1], inputSize) || !fits(sizes[2], inputSize) || !fits(sizes[3], 3)) {
    throw new DataError(
      `The base model's input "${node.name}" has shape [${sizes.join(', ')}]; expected [-1, ${inputSize}, ${inputSize}, 3] (inputSize ${inputSize}, RGB).`,
    );
  }
}

interface HeadStep {
  name: string;
  /** Absent for an Activation layer. */
  kernel?: tf.Tensor;
  bias?: tf.Tensor;
  /** TF op of the activation; null for linear. */
  activation: string | null;
}

/** The head's inference-time computation, layer by layer. Dropout is the identity at inference. */
function headSteps(head: tf.Sequential): HeadStep[] {
  const steps: HeadStep[] = [];
  for (const layer of head.layers) {
    const className = layer.getClassName();
    if (className === 'Dropout') continue;
    const config = layer.getConfig() as { activation?: string; useBias?: boolean };
    const activationName = config.activation ?? 'linear';
    if (!(activationName in activationOps)) {
      throw new DataError(
        `Head layer "${layer.name}" uses activation "${activationName}", which the graph export does not support ` +
          `(supported: ${Object.keys(activationOps).join(', ')}).`,
      );
    }
    if (className === 'Dense') {
      // getWeights returns the variables' own tensors: read them, never dispose them.
      const [kernel, bias] = layer.getWeights();
      if (kernel.rank !== 2) throw new DataError(`Head layer "${layer.name}" has a kernel of rank ${kernel.rank}; expected 2.`);
      steps.push({ name: layer.name, kernel, bias: config.useBias === false ? undefined : bias, activation: activationOps[activationName] });
    } else if (className === 'Activation') {
      steps.push({ name: layer.name, activation: activationOps[activationName] });
    } else {
      throw new DataError(`Head layer "${layer.name}" (${className}) cannot be exported into a graph model; supported: Dense, Dropout, Activation.`);
    }
  }
  return steps;
}

/** Shape of the feature tensor for one image, found by running the trunk (new input to features) once. */
function probeFeatureShape(topology: GraphDef, weights: Weight[], featureRef: string, inputSize: number, format?: string): number[] {
  const { specs, data } = packWeights(weights);
  let model: tf.GraphModel<tf.io.IOHandlerSync> | undefined;
  try {
    const trunk = tf.loadGraphModelSync(
      tf.io.fromMemorySync({ modelTopology: topology, weightSpecs: specs, weightData: data, format: format ?? 'graph-model' }),
    );
    model = trunk;
    return tf.tidy(() => {
      const output = trunk.execute(tf.zeros([1, inputSize, inputSize, 3]), featureRef);
      if (Array.isArray(output)) throw new DataError(`Node "${featureRef}" yields ${output.length} tensors; expected one.`);
      return output.shape.map(Number);
    });
  } catch (error) {
    if (error instanceof DataError) throw error;
    throw new DataError(
      `Could not run the base model from its input to "${featureRef}" on a ${inputSize}x${inputSize} image: ${(error as Error).message}`,
    );
  } finally {
    model?.dispose();
  }
}

/**
 * One tfjs GraphModel from raw RGB [0, 255] images to the head's output, by GraphDef surgery on the
 * base's model.json: a new float32 input placeholder [-1, inputSize, inputSize, 3] scaled to the
 * base's inputRange feeds what the base's input fed; the features (outputNode) are pooled as
 * frozen-runner pools them (mean over height and width for rank 4, flattened otherwise); the head's
 * Dense layers follow as MatMul + BiasAdd + activation. Everything the output does not need, the
 * base's own classifier included, is pruned with its weights. The base's weights keep their specs
 * and bytes (quantized ones stay quantized); the head's are appended as float32. The result has
 * one input and one output (also declared as its signature), so `predict(images)` returns one tensor.
 *
 * Runs the base once on a zero image to learn the features' shape (needs an initialized backend);
 * allocates no tensors that outlive the call.
 */
export function composeGraphClassifier(base: GraphClassifierBase, head: tf.Sequential): ComposedGraphClassifier {
  const { files, inputSize } = base;
  const modelJson = files.modelJson;
  const graph = modelJson.modelTopology as GraphDef;
  if (!graph || !Array.isArray(graph.node)) {
    throw new DataError('The base model.json has no GraphDef topology ("modelTopology.node"); expected a tfjs GraphModel.');
  }
  if (modelJson.format !== undefined && modelJson.format !== 'graph-model') {
    throw new DataError(`The base model.json has format "${modelJson.format}"; expected "graph-model".`);
  }
  const nodes = new Map<string, GraphNode>();
  for (const node of graph.node) {
    if (node.name.startsWith(prefix)) throw new DataError(`The base graph already has a node "${node.name}"; names under "${prefix}" are reserved for composing.`);
    nodes.set(node.name, node);
  }
  const baseWeights = splitWeights(files);

  // Input: a new placeholder, scaled to inputRange, takes the place of the base's input.
  const featureRef = resolveFeatureRef(graph, nodes, modelJson, base.outputNode);
  const placeholders = [...ancestors(nodes, [featureRef])].map((name) => nodes.get(name)!).filter((node) => node.op.startsWith('Placeholder'));
  if (placeholders.length !== 1) {
    throw new DataError(
      `The features at "${featureRef}" depend on ${placeholders.length} inputs (${placeholders.map((node) => node.name).join(', ') || 'none'}); expected exactly one image input.`,
    );
  }
  const original = placeholders[0];
  checkInputPlaceholder(original, inputSize);
  const [low, high] = base.inputRange;
  const scaleName = `${prefix}input_scale`;
  const scaledName = `${prefix}input_scaled`;
  const offsetName = `${prefix}input_offset`;
  const added: GraphNode[] = [
    { name: GRAPH_CLASSIFIER_INPUT, op: 'Placeholder', attr: { shape: { shape: shapeProto([-1, inputSize, inputSize, 3]) }, dtype: float } },
    constNode(scaleName, 'DT_FLOAT', []),
    { name: scaledName, op: 'Mul', input: [GRAPH_CLASSIFIER_INPUT, scaleName], attr: { T: float } },
    constNode(offsetName, 'DT_FLOAT', []),
  ];
  const addedWeights: Weight[] = [floatWeight(scaleName, [], [(high - low) / 255]), floatWeight(offsetName, [], [low])];
  const rewired = graph.node.map((node) =>
    node === original ? { name: node.name, op: 'AddV2', input: [scaledName, offsetName], attr: { T: float } } : node,
  );
  const all = new Map<string, GraphNode>([...added, ...rewired].map((node) => [node.name, node]));
  const weightsFor = (kept: Set<string>, functions: GraphFunction[]): Weight[] => {
    const functionConsts = new Set(functions.flatMap((func) => (func.nodeDef ?? []).filter((node) => node.op === 'Const').map((node) => node.name)));
    const fromBase = files.weightSpecs.filter((spec) => kept.has(spec.name) || functionConsts.has(spec.name)).map((spec) => baseWeights.get(spec.name)!);
    return [...fromBase, ...addedWeights.filter((weight) => kept.has(weight.spec.name))];
  };
  const subgraph = (outputs: string[]): { kept: Set<string>; nodes: GraphNode[]; functions: GraphFunction[] } => {
    const kept = ancestors(all, outputs);
    const keptNodes = [...all.values()].filter((node) => kept.has(node.name));
    return { kept, nodes: keptNodes, functions: usedFunctions(graph, keptNodes) };
  };
  const topologyOf = (sub: { nodes: GraphNode[]; functions: GraphFunction[] }): GraphDef => {
    const topology: GraphDef = { node: sub.nodes };
    if (sub.functions.length > 0) topology.library = { ...graph.library, function: sub.functions };
    if (graph.versions !== undefined) topology.versions = graph.versions;
    return topology;
  };

  // Features: their shape decides the pooling, exactly as frozen-runner pools them.
  const trunk = subgraph([featureRef]);
  const shape = probeFeatureShape(topologyOf(trunk), weightsFor(trunk.kept, trunk.functions), featureRef, inputSize, modelJson.format);
  let x = featureRef;
  let width: number;
  if (shape.length === 4) {
    const axesName = `${prefix}pool_axes`;
    added.push(constNode(axesName, 'DT_INT32', [2]), {
      name: `${prefix}features`,
      op: 'Mean',
      input: [x, axesName],
      attr: { T: float, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } },
    });
    addedWeights.push(int32Weight(axesName, [1, 2]));
    x = `${prefix}features`;
    width = shape[3];
  } else if (shape.length === 2) {
    width = shape[1];
  } else if (shape.length > 2) {
    width = shape.slice(1).reduce((product, dim) => product * dim, 1);
    const shapeName = `${prefix}features_shape`;
    added.push(constNode(shapeName, 'DT_INT32', [2]), {
      name: `${prefix}features`,
      op: 'Reshape',
      input: [x, shapeName],
      attr: { T: float, Tshape: { type: 'DT_INT32' } },
    });
    addedWeights.push(int32Weight(shapeName, [-1, width]));
    x = `${prefix}features`;
  } else {
    throw new DataError(`Node "${featureRef}" yields a tensor of shape [${shape.join(', ')}]; expected a batch of feature maps or vectors.`);
  }

  // Head: MatMul + BiasAdd + activation per Dense layer.
  const headWidth = head.inputs[0]?.shape[1];
  if (headWidth !== width) {
    throw new DataError(`The head takes ${headWidth} features, but "${featureRef}" yields ${width} (shape [${shape.join(', ')}] for one image).`);
  }
  for (const step of headSteps(head)) {
    const scope = `${prefix}${step.name}`;
    if (step.kernel) {
      if (step.kernel.shape[0] !== width) {
        throw new DataError(`Head layer "${step.name}" takes ${step.kernel.shape[0]} inputs, but receives ${width}.`);
      }
      added.push(constNode(`${scope}/kernel`, 'DT_FLOAT', step.kernel.shape), {
        name: `${scope}/MatMul`,
        op: 'MatMul',
        input: [x, `${scope}/kernel`],
        attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } },
      });
      addedWeights.push(floatWeight(`${scope}/kernel`, step.kernel.shape, step.kernel.dataSync()));
      x = `${scope}/MatMul`;
      width = step.kernel.shape[1]!;
      if (step.bias) {
        added.push(constNode(`${scope}/bias`, 'DT_FLOAT', step.bias.shape), {
          name: `${scope}/BiasAdd`,
          op: 'BiasAdd',
          input: [x, `${scope}/bias`],
          attr: { T: float, data_format: { s: encode('NHWC') } },
        });
        addedWeights.push(floatWeight(`${scope}/bias`, step.bias.shape, step.bias.dataSync()));
        x = `${scope}/BiasAdd`;
      }
    }
    if (step.activation) {
      added.push({ name: `${scope}/${step.activation}`, op: step.activation, input: [x], attr: { T: float } });
      x = `${scope}/${step.activation}`;
    }
  }
  added.push({ name: GRAPH_CLASSIFIER_OUTPUT, op: 'Identity', input: [x], attr: { T: float } });
  for (const node of added) all.set(node.name, node);

  // Prune everything the output does not need, the base's classifier and unused weights included.
  const composed = subgraph([GRAPH_CLASSIFIER_OUTPUT]);
  if (modelJson.modelInitializer && composed.nodes.some((node) => /Table/.test(node.op))) {
    throw new DataError('The base model uses lookup tables (a model initializer); composing such a GraphModel is not supported.');
  }
  const { specs, data } = packWeights(weightsFor(composed.kept, composed.functions));
  const signature = {
    inputs: {
      [`${GRAPH_CLASSIFIER_INPUT}:0`]: {
        name: `${GRAPH_CLASSIFIER_INPUT}:0`,
        dtype: 'DT_FLOAT',
        tensorShape: shapeProto([-1, inputSize, inputSize, 3]),
      },
    },
    outputs: {
      [`${GRAPH_CLASSIFIER_OUTPUT}:0`]: { name: `${GRAPH_CLASSIFIER_OUTPUT}:0`, dtype: 'DT_FLOAT', tensorShape: shapeProto([-1, width]) },
    },
  };
  // tfjs-converter prefers userDefinedMetadata.signature, and structuredOutputKeys would turn the output into a map.
  const metadata = { ...((modelJson.userDefinedMetadata ?? {}) as Record<string, unknown>) };
  delete metadata.signature;
  delete metadata.structuredOutputKeys;
  const result: tf.io.ModelJSON = {
    format: 'graph-model',
    generatedBy: modelJson.generatedBy,
    convertedBy: `finetune-pipeline composeGraphClassifier${modelJson.convertedBy ? ` from ${modelJson.convertedBy}` : ''}`,
    modelTopology: topologyOf(composed),
    signature,
    weightsManifest: [{ paths: [GRAPH_CLASSIFIER_SHARD], weights: specs }],
  };
  if (Object.keys(metadata).length > 0) result.userDefinedMetadata = metadata as tf.io.ModelJSON['userDefinedMetadata'];
  return { modelJson: result, weightData: data };
}
