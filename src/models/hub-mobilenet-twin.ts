import * as tf from '@tensorflow/tfjs';
import { DataError } from '../errors';
import { dataInputs, intListAttr, readGraphContents, stringAttr, stringListAttr, type GraphContents, type GraphNode } from './graph-model-nodes';
import type { ConvStep, MobileNetLayout } from './hub-mobilenet-architecture';
import type { ModelFiles } from './model-files';

/** Layer names of a twin: the graph's scope with "/" as "_" (Keras names cannot hold "/"). */
export function twinLayerName(scope: string): string {
  return scope.replace(/\//g, '_');
}

/** The activation layer after a convolution, named after the graph's Relu6 node. */
export function reluLayerName(scope: string): string {
  return `${twinLayerName(scope)}_Relu6`;
}

/** Names of the layers every twin has, by version. */
export function twinHeadNames(version: 1 | 2) {
  return {
    input: 'hub_input',
    embedding: version === 1 ? 'Logits_global_pool' : 'Logits_AvgPool',
    logits: 'Logits_Conv2d_1c_1x1',
    lastFeatureMap: version === 1 ? reluLayerName('Conv2d_13_pointwise') : reluLayerName('Conv_1'),
  };
}

const convOps = new Set(['Conv2D', '_FusedConv2D', 'FusedConv2D']);
const depthwiseOps = new Set(['DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative']);
const batchNormOps = ['FusedBatchNorm', 'FusedBatchNormV3'];

interface FoundConv {
  node: GraphNode;
  kernel: tf.Tensor;
  bias: tf.Tensor;
  relu6: boolean;
}

/**
 * Where one convolution of the layout is in the graph. Its node is named by the converter after the
 * last op it fused (".../expand/Relu6", ".../project/BatchNorm/FusedBatchNormV3", ".../depthwise/depthwise"),
 * so it is found by scope; its weights are whatever constants it reads.
 */
class GraphIndex {
  private readonly convNodes: { node: GraphNode; relative: string }[] = [];
  private readonly consumers = new Map<string, GraphNode[]>();
  /** Tensors computed here (folded weights), freed with the graph's constants. */
  readonly owned: tf.Tensor[] = [];

  constructor(
    private readonly graph: GraphContents,
    private readonly networkScope: string,
  ) {
    for (const node of graph.nodes.values()) {
      for (const input of dataInputs(node)) this.consumers.set(input, [...(this.consumers.get(input) ?? []), node]);
      const relative = this.relativeName(node.name);
      if (relative !== undefined && (convOps.has(node.op) || depthwiseOps.has(node.op))) this.convNodes.push({ node, relative });
    }
  }

  /** "module_apply_default/MobilenetV1/MobilenetV1/Conv2d_0/Relu6" -> "Conv2d_0/Relu6". */
  relativeName(name: string): string | undefined {
    const marker = `${this.networkScope}/`;
    const at = name.lastIndexOf(marker);
    if (at < 0 || (at > 0 && name[at - 1] !== '/')) return undefined;
    return name.slice(at + marker.length);
  }

  conv(step: Pick<ConvStep, 'kind' | 'scope' | 'stride' | 'relu6'>): FoundConv {
    const where = `${this.networkScope}/${step.scope}`;
    const ops = step.kind === 'depthwise' ? depthwiseOps : convOps;
    const found = this.convNodes.filter((conv) => conv.relative.startsWith(`${step.scope}/`) && ops.has(conv.node.op)).map((conv) => conv.node);
    if (found.length !== 1) {
      throw new DataError(`expected one ${step.kind} convolution under ${where}, found ${found.length}`);
    }
    const node = found[0];
    const [, kernelName, fusedArg] = dataInputs(node);
    let kernel = this.constant(kernelName, `the weights of ${node.name}`);
    const strides = intListAttr(node, 'strides');
    if (strides.length === 4 && (strides[1] !== step.stride || strides[2] !== step.stride)) {
      throw new DataError(`${node.name} has strides [${strides.join(', ')}], expected ${step.stride}`);
    }
    const padding = stringAttr(node, 'padding');
    if (padding !== undefined && padding !== 'SAME') throw new DataError(`${node.name} has padding ${padding}, expected SAME`);
    const fused = stringListAttr(node, 'fused_ops');
    let output = node;
    let bias: tf.Tensor;
    if (fused.includes('BiasAdd')) {
      bias = this.constant(fusedArg, `the bias of ${node.name}`);
    } else {
      output = this.onlyConsumer(node, ['BiasAdd', 'Add', 'AddV2', ...batchNormOps]);
      if (batchNormOps.includes(output.op)) {
        ({ kernel, bias } = this.foldBatchNorm(output, kernel, step.kind === 'depthwise'));
      } else {
        const biasName = dataInputs(output).find((input) => input !== node.name);
        bias = this.constant(biasName, `the bias added after ${node.name}`);
      }
    }
    const relu6 = fused.includes('Relu6') || (this.consumers.get(output.name) ?? []).some((consumer) => consumer.op === 'Relu6');
    const otherActivation = fused.find((op) => op !== 'BiasAdd' && op !== 'Relu6');
    if (otherActivation) throw new DataError(`${node.name} applies ${otherActivation}, expected ${step.relu6 ? 'Relu6' : 'no activation'}`);
    if (relu6 !== step.relu6) throw new DataError(`${node.name} is ${relu6 ? '' : 'not '}followed by Relu6, expected the opposite`);
    return { node, kernel, bias, relu6 };
  }

  /**
   * A batch norm the converter left in place, folded as the converter would have: the kernel scaled per
   * output channel by gamma / sqrt(variance + epsilon), the bias beta - mean * that scale.
   */
  private foldBatchNorm(batchNorm: GraphNode, kernel: tf.Tensor, depthwise: boolean): { kernel: tf.Tensor; bias: tf.Tensor } {
    const [, gamma, beta, mean, variance] = dataInputs(batchNorm).map((name, i) => (i === 0 ? undefined : this.constant(name, `input ${i} of ${batchNorm.name}`)));
    const epsilon = batchNorm.attr?.epsilon?.f ?? 0.001;
    const folded = tf.tidy(() => {
      const scale = tf.div(gamma!, tf.sqrt(tf.add(variance!, epsilon)));
      // Output channels are the last axis of a conv kernel [h, w, in, out], the third of a depthwise one [h, w, in, 1].
      const perChannel = depthwise ? scale.reshape([1, 1, -1, 1]) : scale.reshape([1, 1, 1, -1]);
      return { kernel: tf.mul(kernel, perChannel), bias: tf.sub(beta!, tf.mul(mean!, scale)) };
    });
    this.owned.push(folded.kernel, folded.bias);
    return folded;
  }

  private onlyConsumer(node: GraphNode, ops: string[]): GraphNode {
    const next = (this.consumers.get(node.name) ?? []).filter((consumer) => ops.includes(consumer.op));
    if (next.length !== 1) throw new DataError(`expected ${node.name} to be followed by one of ${ops.join('/')}, found ${next.length}`);
    return next[0];
  }

  constant(name: string | undefined, what: string): tf.Tensor {
    const tensor = name === undefined ? undefined : this.graph.constants[name];
    if (!tensor) throw new DataError(`${what} (${name ?? 'no input'}) is not a constant of the graph`);
    return tensor;
  }

  /** The scale and offset the graph applies to its input before the first convolution (TF Hub's hub_input/Mul, Sub). */
  inputAffine(firstConv: GraphNode): { scale: number; offset: number } {
    let name = dataInputs(firstConv)[0];
    const ops: { op: string; value: number; constFirst: boolean }[] = [];
    for (let depth = 0; depth < 8; depth++) {
      const node = this.graph.nodes.get(name);
      if (!node) throw new DataError(`${firstConv.name} reads ${name}, which is not in the graph`);
      if (node.op === 'Placeholder') break;
      const inputs = dataInputs(node);
      const constIndex = inputs.findIndex((input) => this.graph.constants[input] !== undefined);
      if (!['Mul', 'Sub', 'Add', 'AddV2', 'RealDiv'].includes(node.op) || inputs.length !== 2 || constIndex < 0) {
        throw new DataError(`between the input and ${firstConv.name} the graph applies ${node.op} (${node.name}); expected only a scale and an offset`);
      }
      const value = this.graph.constants[inputs[constIndex]];
      if (value.size !== 1) throw new DataError(`${node.name} applies a ${value.shape.join('x')} constant; expected a scalar`);
      ops.unshift({ op: node.op, value: value.dataSync()[0], constFirst: constIndex === 0 });
      name = inputs[1 - constIndex];
    }
    let scale = 1;
    let offset = 0;
    for (const { op, value, constFirst } of ops) {
      if (op === 'Mul') [scale, offset] = [scale * value, offset * value];
      else if (op === 'RealDiv') [scale, offset] = [scale / value, offset / value];
      else if (op === 'Sub') [scale, offset] = constFirst ? [-scale, value - offset] : [scale, offset - value];
      else offset += value;
    }
    return { scale, offset };
  }
}

function checkShape(found: FoundConv, expected: number[], layer: string): void {
  const actual = found.kernel.shape;
  if (actual.length !== expected.length || actual.some((size, i) => size !== expected[i])) {
    throw new DataError(`${found.node.name} has weights of shape [${actual.join(', ')}]; the twin's ${layer} expects [${expected.join(', ')}]`);
  }
}

export interface TwinOfGraph {
  model: tf.LayersModel;
  /** Graph node each weighted layer of the twin was loaded from. */
  sourceNodes: Record<string, string>;
}

/**
 * Rebuilds a TF Hub MobileNet GraphModel as a LayersModel of standard Keras layers and loads the graph's
 * weights into it. The converter folded batch norm into the convolutions, so the twin has convolutions
 * with bias and no batch norm (a batch norm left unfolded in the graph is folded here the same way);
 * each ReLU6 is its own layer (so features can be tapped after it).
 * Throws DataError when the graph does not have the layout's shape.
 */
export function buildTwinFromGraph(layout: MobileNetLayout, files: ModelFiles, inputSize: number): TwinOfGraph {
  const graph = readGraphContents(files);
  const index = new GraphIndex(graph, layout.scope);
  try {
    return assembleTwin(layout, index, inputSize);
  } finally {
    tf.dispose([graph.constants, index.owned]);
  }
}

function assembleTwin(layout: MobileNetLayout, index: GraphIndex, inputSize: number): TwinOfGraph {
  const names = twinHeadNames(layout.version);
  const sourceNodes: Record<string, string> = {};
  const weights: { layer: tf.layers.Layer; values: tf.Tensor[] }[] = [];
  const convs = layout.steps.map((step) => index.conv(step));

  const image = tf.input({ shape: [inputSize, inputSize, 3], name: 'images' });
  const affine = index.inputAffine(convs[0].node);
  let x = tf.layers.rescaling({ scale: affine.scale, offset: affine.offset, name: names.input }).apply(image) as tf.SymbolicTensor;
  let channels = 3;
  let blockInput = x;
  layout.steps.forEach((step, i) => {
    const found = convs[i];
    const name = twinLayerName(step.scope);
    if (step.scope.endsWith('/expand')) blockInput = x;
    const common = { kernelSize: step.kernel, strides: step.stride, padding: 'same' as const, useBias: true, name };
    const layer =
      step.kind === 'depthwise'
        ? tf.layers.depthwiseConv2d({ ...common, depthMultiplier: 1, depthwiseInitializer: 'zeros', biasInitializer: 'zeros' })
        : tf.layers.conv2d({ ...common, filters: step.filters, kernelInitializer: 'zeros', biasInitializer: 'zeros' });
    checkShape(found, step.kind === 'depthwise' ? [step.kernel, step.kernel, channels, 1] : [step.kernel, step.kernel, channels, step.filters], name);
    x = layer.apply(x) as tf.SymbolicTensor;
    weights.push({ layer, values: [found.kernel, found.bias] });
    sourceNodes[name] = found.node.name;
    if (step.relu6) x = tf.layers.reLU({ maxValue: 6, name: reluLayerName(step.scope) }).apply(x) as tf.SymbolicTensor;
    if (step.residualAdd) x = tf.layers.add({ name: twinLayerName(step.residualAdd) }).apply([blockInput, x]) as tf.SymbolicTensor;
    channels = step.filters;
  });

  const embedding = tf.layers.globalAveragePooling2d({ name: names.embedding }).apply(x) as tf.SymbolicTensor;
  const classifier = index.conv({ kind: 'conv', scope: 'Logits/Conv2d_1c_1x1', stride: 1, relu6: false });
  checkShape(classifier, [1, 1, layout.embeddingWidth, layout.logits], names.logits);
  // A 1x1 convolution on a 1x1 map is a dense layer: the same products, without the squeeze.
  const dense = tf.layers.dense({ units: layout.logits, name: names.logits, kernelInitializer: 'zeros', biasInitializer: 'zeros' });
  const logits = dense.apply(embedding) as tf.SymbolicTensor;
  weights.push({ layer: dense, values: [classifier.kernel, classifier.bias] });
  sourceNodes[names.logits] = classifier.node.name;

  const model = tf.model({ inputs: image, outputs: logits, name: `${layout.scope}_twin` });
  // setWeights shares the decoded tensors' data; the caller frees its references to them.
  tf.tidy(() => {
    for (const { layer, values } of weights) layer.setWeights(values.map((value, i) => (i === 0 && layer === dense ? value.reshape([layout.embeddingWidth, layout.logits]) : value)));
  });
  return { model, sourceNodes };
}
