/**
 * GraphModels in the format TF Hub serves the @tensorflow-models/mobilenet models in, with seeded
 * random weights of the real shapes, generated at test time (nothing binary in the repository).
 *
 * The format is what tensorflowjs_converter makes of a TF-slim MobileNet hub module: input
 * "images" in [0, 1], hub_input/Mul and hub_input/Sub to [-1, 1], batch norm folded into each
 * convolution as a bias ("<scope>/Conv2D_weights", "<scope>/Conv2D_bn_offset"), convolution, bias
 * and ReLU6 fused into one _FusedConv2D or FusedDepthwiseConv2dNative node named after the last
 * op it absorbed, AddV2 for v2's residuals, the embedding node (v1: Mean "Logits/global_pool",
 * v2: AvgPool "Logits/AvgPool"), the 1x1 classifier and the squeeze to 1001 logits.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mobileNetLayout, type ConvStep } from '../../src/models/hub-mobilenet-architecture';
import { seededRandom } from '../../src/train/seeded-random';

interface NodeJson {
  name: string;
  op: string;
  input?: string[];
  attr: Record<string, unknown>;
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
}

const prefix = 'module_apply_default/';
const shardBytes = 4 * 1024 * 1024;

const b64 = (text: string) => Buffer.from(text).toString('base64');
const ints = (values: number[]) => ({ list: { i: values.map(String) } });
const float = { type: 'DT_FLOAT' };

/** Seeded noise of mean 0 and variance 1: the same weights for the same seed. */
function unitNoise(seed: number): () => number {
  const uniform = seededRandom(seed);
  return () => (uniform() - 0.5) * Math.sqrt(12);
}

class GraphWriter {
  readonly nodes: NodeJson[] = [];
  readonly specs: WeightSpec[] = [];
  readonly chunks: Buffer[] = [];
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = unitNoise(seed);
  }

  constant(name: string, shape: number[], std: number, mean = 0): string {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < values.length; i++) values[i] = mean + std * this.random();
    return this.raw(name, shape, 'float32', Buffer.from(values.buffer));
  }

  raw(name: string, shape: number[], dtype: 'float32' | 'int32', bytes: Buffer): string {
    const type = dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32';
    this.nodes.push({ name, op: 'Const', attr: { value: { tensor: { dtype: type, tensorShape: shape.length ? { dim: shape.map((size) => ({ size: String(size) })) } : {} } }, dtype: { type } } });
    this.specs.push({ name, shape, dtype });
    this.chunks.push(bytes);
    return name;
  }

  node(name: string, op: string, input: string[], attr: Record<string, unknown> = {}): string {
    this.nodes.push({ name, op, input, attr: { T: float, ...attr } });
    return name;
  }

  /** One folded convolution (weights, bias, fused ops) as the converter writes it. */
  conv(step: ConvStep, opScope: string, input: string, inChannels: number): string {
    const depthwise = step.kind === 'depthwise';
    const weightName = depthwise ? 'depthwise' : 'Conv2D';
    const fanIn = step.kernel * step.kernel * (depthwise ? 1 : inChannels);
    // He-scaled weights keep the ReLU6 activations spread over their range through all the blocks.
    const gain = step.relu6 ? Math.SQRT2 : 0.7;
    const kernel = this.constant(`${opScope}/${weightName}_weights`, [step.kernel, step.kernel, inChannels, depthwise ? 1 : step.filters], gain / Math.sqrt(fanIn));
    const bias = this.constant(`${opScope}/${weightName}_bn_offset`, [step.filters], 0.1, step.relu6 ? 0.2 : 0);
    const name = depthwise ? `${opScope}/depthwise` : step.relu6 ? `${opScope}/Relu6` : `${opScope}/BatchNorm/FusedBatchNorm`;
    const fused = step.relu6 ? ['BiasAdd', 'Relu6'] : ['BiasAdd'];
    return this.node(name, depthwise ? 'FusedDepthwiseConv2dNative' : '_FusedConv2D', [input, kernel, bias], {
      ...convAttrs(step.stride),
      fused_ops: { list: { s: fused.map(b64) } },
      num_args: { i: '1' },
      ...(depthwise ? {} : { epsilon: { f: 0 } }),
    });
  }

  /** The same convolution before the converter's folding: Conv2D, FusedBatchNormV3 with its statistics, Relu6. */
  unfoldedConv(step: ConvStep, opScope: string, input: string, inChannels: number): string {
    const depthwise = step.kind === 'depthwise';
    const fanIn = step.kernel * step.kernel * (depthwise ? 1 : inChannels);
    const gain = step.relu6 ? Math.SQRT2 : 0.7;
    const kernel = this.constant(`${opScope}/${depthwise ? 'depthwise_weights' : 'weights'}`, [step.kernel, step.kernel, inChannels, depthwise ? 1 : step.filters], gain / Math.sqrt(fanIn));
    const conv = this.node(`${opScope}/${depthwise ? 'depthwise' : 'Conv2D'}`, depthwise ? 'DepthwiseConv2dNative' : 'Conv2D', [input, kernel], convAttrs(step.stride));
    const statistics = [
      this.constant(`${opScope}/BatchNorm/gamma`, [step.filters], 0.1, 1),
      this.constant(`${opScope}/BatchNorm/beta`, [step.filters], 0.1, step.relu6 ? 0.2 : 0),
      this.constant(`${opScope}/BatchNorm/moving_mean`, [step.filters], 0.1),
      this.constant(`${opScope}/BatchNorm/moving_variance`, [step.filters], 0.1, 1),
    ];
    const normalized = this.node(`${opScope}/BatchNorm/FusedBatchNormV3`, 'FusedBatchNormV3', [conv, ...statistics], {
      epsilon: { f: 0.001 },
      is_training: { b: false },
      data_format: { s: b64('NHWC') },
      U: float,
    });
    return step.relu6 ? this.node(`${opScope}/Relu6`, 'Relu6', [normalized]) : normalized;
  }
}

function convAttrs(stride: number): Record<string, unknown> {
  return { strides: ints([1, stride, stride, 1]), padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') }, dilations: ints([1, 1, 1, 1]) };
}

export interface HubFixtureOptions {
  version: 1 | 2;
  alpha: number;
  /** Input side; TF Hub's are 224. Smaller sizes keep tests fast (v2's AvgPool window follows). */
  imageSize?: number;
  seed?: number;
  /** Batch norm left as its own op (a graph the converter did not optimize), instead of folded into each convolution. */
  unfoldedBatchNorm?: boolean;
}

export interface HubFixture {
  /** File name -> bytes, as TF Hub serves them beside model.json. */
  files: Map<string, Buffer>;
  embeddingNode: string;
  logitsNode: string;
}

/** A hub-format MobileNet GraphModel with random weights of the real shapes. */
export function hubMobileNetGraph(options: HubFixtureOptions): HubFixture {
  const { version, alpha, imageSize = 224, seed = 12, unfoldedBatchNorm = false } = options;
  const layout = mobileNetLayout(version, alpha);
  const net = `${prefix}${layout.scope}`;
  // TF-slim's v1 ops live in MobilenetV1/MobilenetV1/..., v2's in MobilenetV2/...
  const opRoot = version === 1 ? `${net}/${layout.scope}` : net;
  const writer = new GraphWriter(seed);

  writer.nodes.push({ name: 'images', op: 'Placeholder', attr: { dtype: float, shape: { shape: { dim: [-1, imageSize, imageSize, 3].map((size) => ({ size: String(size) })) } } } });
  const two = writer.raw(`${prefix}hub_input/Mul/y`, [], 'float32', Buffer.from(new Float32Array([2]).buffer));
  const one = writer.raw(`${prefix}hub_input/Sub/y`, [], 'float32', Buffer.from(new Float32Array([1]).buffer));
  let x = writer.node(`${prefix}hub_input/Sub`, 'Sub', [writer.node(`${prefix}hub_input/Mul`, 'Mul', [two, 'images']), one]);

  let channels = 3;
  let blockInput = x;
  for (const step of layout.steps) {
    if (step.scope.endsWith('/expand')) blockInput = x;
    x = unfoldedBatchNorm ? writer.unfoldedConv(step, `${opRoot}/${step.scope}`, x, channels) : writer.conv(step, `${opRoot}/${step.scope}`, x, channels);
    if (step.residualAdd) x = writer.node(`${opRoot}/${step.residualAdd}`, 'AddV2', [blockInput, x]);
    channels = step.filters;
  }

  let embeddingNode: string;
  if (version === 1) {
    const axes = writer.raw(`${net}/Logits/global_pool/reduction_indices`, [2], 'int32', Buffer.from(new Int32Array([1, 2]).buffer));
    embeddingNode = writer.node(`${net}/Logits/global_pool`, 'Mean', [x, axes], { keep_dims: { b: true }, Tidx: { type: 'DT_INT32' } });
  } else {
    const side = Math.ceil(imageSize / 32);
    embeddingNode = writer.node(`${net}/Logits/AvgPool`, 'AvgPool', [x], {
      ksize: ints([1, side, side, 1]),
      strides: ints([1, 1, 1, 1]),
      padding: { s: b64('VALID') },
      data_format: { s: b64('NHWC') },
    });
  }
  const classifier = `${net}/Logits/Conv2d_1c_1x1`;
  const kernel = writer.constant(`${classifier}/weights`, [1, 1, channels, layout.logits], 1 / Math.sqrt(channels));
  const biases = writer.constant(`${classifier}/biases`, [layout.logits], 0.1);
  const logits = writer.node(`${classifier}/BiasAdd`, '_FusedConv2D', [embeddingNode, kernel, biases], {
    strides: ints([1, 1, 1, 1]),
    padding: { s: b64('SAME') },
    data_format: { s: b64('NHWC') },
    dilations: ints([1, 1, 1, 1]),
    fused_ops: { list: { s: [b64('BiasAdd')] } },
    num_args: { i: '1' },
    epsilon: { f: 0 },
  });
  let logitsNode: string;
  if (version === 1) {
    logitsNode = writer.node(`${net}/Logits/SpatialSqueeze`, 'Squeeze', [logits], { squeeze_dims: ints([1, 2]) });
  } else {
    const squeezed = writer.node(`${net}/Logits/Squeeze`, 'Squeeze', [logits], { squeeze_dims: ints([1, 2]) });
    logitsNode = writer.node(`${net}/Logits/output`, 'Identity', [squeezed]);
  }

  const weights = Buffer.concat(writer.chunks);
  const shardCount = Math.max(1, Math.ceil(weights.length / shardBytes));
  const files = new Map<string, Buffer>();
  const paths: string[] = [];
  for (let i = 0; i < shardCount; i++) {
    const name = `group1-shard${i + 1}of${shardCount}`;
    paths.push(name);
    files.set(name, weights.subarray(i * shardBytes, Math.min(weights.length, (i + 1) * shardBytes)));
  }
  const modelJson = {
    format: 'graph-model',
    generatedBy: '1.13.1',
    convertedBy: 'TensorFlow.js Converter v1.1.2',
    modelTopology: { node: writer.nodes, library: {}, versions: {} },
    weightsManifest: [{ paths, weights: writer.specs }],
  };
  files.set('model.json', Buffer.from(JSON.stringify(modelJson)));
  return { files, embeddingNode, logitsNode };
}

export interface LoopbackHub {
  url: string;
  /** Paths requested so far. */
  requests: string[];
  close(): Promise<void>;
}

/** A loopback TF Hub: GET <hubPath>/<file>?tfjs-format=file answers the fixture's bytes, anything else 404. */
export async function serveLoopbackHub(models: Map<string, Map<string, Buffer>>): Promise<LoopbackHub> {
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    requests.push(request.url ?? '');
    const url = new URL(request.url ?? '/', 'http://localhost');
    const slash = url.pathname.lastIndexOf('/');
    const body = url.searchParams.get('tfjs-format') === 'file' ? models.get(url.pathname.slice(0, slash))?.get(url.pathname.slice(slash + 1)) : undefined;
    if (!body) {
      response.writeHead(404, { 'content-type': 'text/plain', connection: 'close' }).end('Not Found');
      return;
    }
    // No keep-alive: a socket idle past the server's timeout would be reused by fetch and reset.
    response.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream', connection: 'close' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
