import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { registerTrainingKernels, resetTrainingKernelStats, restoreStockKernels, trainingKernelStats } from '../../src/backend/training-kernels';
import type { FinetuneConfig } from '../../src/config/schema';
import { silentLogger, type Logger } from '../../src/logger';
import type { BaseModel } from '../../src/models/base-model';
import { mobileNetLayout } from '../../src/models/hub-mobilenet-architecture';
import { HubMobileNetSource, parseHubMobileNetId } from '../../src/models/hub-mobilenet-source';
import { buildTwinFromGraph } from '../../src/models/hub-mobilenet-twin';
import { ioHandlerFor, readModelFiles, type ModelFiles } from '../../src/models/model-files';
import { blockNumbers, boundaryBelowTopBlocks, segmentBetween } from '../../src/models/network-surgery';
import { chooseFreezeBoundary } from '../../src/policy/plan';
import type { Similarity } from '../../src/policy/similarity';
import { SharpImageDecoder } from '../../src/preprocess/sharp-image-decoder';
import { hubMobileNetGraph, serveLoopbackHub, type HubFixture, type LoopbackHub } from '../helpers/hub-graph-fixture';
import { sampleDir, temporaryDir } from '../helpers/sample-data';

/** Output [height, width, channels] at 224 of the end of each stage, from the papers' tables (v1 Table 1, v2 Table 2) scaled by alpha. */
const publishedStages: Record<string, Record<string, number[]>> = {
  'mobilenet_v1_0.25': { Conv2d_0_Relu6: [112, 112, 8], Conv2d_1_pointwise_Relu6: [112, 112, 16], Conv2d_3_pointwise_Relu6: [56, 56, 32], Conv2d_5_pointwise_Relu6: [28, 28, 64], Conv2d_11_pointwise_Relu6: [14, 14, 128], Conv2d_13_pointwise_Relu6: [7, 7, 256] },
  'mobilenet_v1_0.50': { Conv2d_0_Relu6: [112, 112, 16], Conv2d_1_pointwise_Relu6: [112, 112, 32], Conv2d_3_pointwise_Relu6: [56, 56, 64], Conv2d_5_pointwise_Relu6: [28, 28, 128], Conv2d_11_pointwise_Relu6: [14, 14, 256], Conv2d_13_pointwise_Relu6: [7, 7, 512] },
  'mobilenet_v1_0.75': { Conv2d_0_Relu6: [112, 112, 24], Conv2d_1_pointwise_Relu6: [112, 112, 48], Conv2d_3_pointwise_Relu6: [56, 56, 96], Conv2d_5_pointwise_Relu6: [28, 28, 192], Conv2d_11_pointwise_Relu6: [14, 14, 384], Conv2d_13_pointwise_Relu6: [7, 7, 768] },
  'mobilenet_v1_1.00': { Conv2d_0_Relu6: [112, 112, 32], Conv2d_1_pointwise_Relu6: [112, 112, 64], Conv2d_3_pointwise_Relu6: [56, 56, 128], Conv2d_5_pointwise_Relu6: [28, 28, 256], Conv2d_11_pointwise_Relu6: [14, 14, 512], Conv2d_13_pointwise_Relu6: [7, 7, 1024] },
  // v2 depths are rounded to multiples of 8 (TF-slim's _make_divisible); Conv_1 keeps 1280 below alpha 1.
  'mobilenet_v2_0.50': { Conv_Relu6: [112, 112, 16], expanded_conv_project: [112, 112, 8], expanded_conv_2_add: [56, 56, 16], expanded_conv_5_add: [28, 28, 16], expanded_conv_9_add: [14, 14, 32], expanded_conv_12_add: [14, 14, 48], expanded_conv_15_add: [7, 7, 80], expanded_conv_16_project: [7, 7, 160], Conv_1_Relu6: [7, 7, 1280] },
  'mobilenet_v2_0.75': { Conv_Relu6: [112, 112, 24], expanded_conv_project: [112, 112, 16], expanded_conv_2_add: [56, 56, 24], expanded_conv_5_add: [28, 28, 24], expanded_conv_9_add: [14, 14, 48], expanded_conv_12_add: [14, 14, 72], expanded_conv_15_add: [7, 7, 120], expanded_conv_16_project: [7, 7, 240], Conv_1_Relu6: [7, 7, 1280] },
  'mobilenet_v2_1.00': { Conv_Relu6: [112, 112, 32], expanded_conv_project: [112, 112, 16], expanded_conv_2_add: [56, 56, 24], expanded_conv_5_add: [28, 28, 32], expanded_conv_9_add: [14, 14, 64], expanded_conv_12_add: [14, 14, 96], expanded_conv_15_add: [7, 7, 160], expanded_conv_16_project: [7, 7, 320], Conv_1_Relu6: [7, 7, 1280] },
};

/** Millions of weights (batch norm left out) in TF-slim's model tables for the mobilenet_v1 and mobilenet_v2 checkpoints. */
const publishedMillions: Record<string, number> = {
  'mobilenet_v1_0.25': 0.47,
  'mobilenet_v1_0.50': 1.34,
  'mobilenet_v1_0.75': 2.59,
  'mobilenet_v1_1.00': 4.24,
  'mobilenet_v2_0.50': 1.95,
  'mobilenet_v2_0.75': 2.61,
  'mobilenet_v2_1.00': 3.47,
};

function filesOf(fixture: HubFixture): ModelFiles {
  const dir = temporaryDir('hub-fixture');
  for (const [name, bytes] of fixture.files) fs.writeFileSync(path.join(dir, name), bytes);
  return readModelFiles(dir);
}

function twinOf(id: string, imageSize = 224) {
  const hub = parseHubMobileNetId(id)!;
  const layout = mobileNetLayout(hub.version, Number(hub.alpha));
  return buildTwinFromGraph(layout, filesOf(hubMobileNetGraph({ version: hub.version, alpha: Number(hub.alpha), imageSize })), imageSize);
}

function sourceFor(hubUrl: string, cacheDir: string, logger: Logger = silentLogger): HubMobileNetSource {
  const base = { id: 'mobilenet_v2_1.00', cacheDir, featureCacheMaxMB: 4096, hubUrl, downloadTimeoutSeconds: 30 };
  return new HubMobileNetSource({ base } as FinetuneConfig, logger);
}

/** max |a - b| / max |b|: the error relative to the reference's scale. */
function relativeError(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a.reshape(b.shape), b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]);
}

/** The first image of each class of the embedded Fashion-MNIST sample, decoded and resized by sharp, in [0, 1]. */
async function realImages(size: number): Promise<tf.Tensor4D> {
  const decoder = new SharpImageDecoder();
  const pixels: Uint8Array[] = [];
  for (const label of fs.readdirSync(sampleDir).sort()) {
    const file = fs.readdirSync(path.join(sampleDir, label)).sort()[0];
    const image = await decoder.decode(fs.readFileSync(path.join(sampleDir, label, file)), { size, fit: 'cover', maxInputPixels: 1e8 });
    pixels.push(image.data);
  }
  return tf.tidy(() => tf.tensor4d(Buffer.concat(pixels), [pixels.length, size, size, 3], 'int32').toFloat().div<tf.Tensor4D>(255));
}

before(async () => {
  await tf.setBackend('wasm');
});

describe('twins have the published layer shapes', () => {
  for (const id of Object.keys(publishedStages)) {
    test(id, () => {
      const { model } = twinOf(id);
      try {
        assert.deepEqual(model.inputs[0].shape, [null, 224, 224, 3]);
        for (const [layer, shape] of Object.entries(publishedStages[id])) {
          assert.deepEqual((model.getLayer(layer).outputShape as number[]).slice(1), shape, `${layer} of ${id}`);
        }
        assert.deepEqual(model.outputs[0].shape, [null, 1001]);
        const classes = new Set(model.layers.map((layer) => layer.getClassName()));
        assert.equal(classes.has('BatchNormalization'), false, 'batch norm is folded into the convolutions');
        assert.deepEqual([...classes].sort(), ['Add', 'Conv2D', 'Dense', 'DepthwiseConv2D', 'GlobalAveragePooling2D', 'InputLayer', 'ReLU', 'Rescaling'].filter((c) => c !== 'Add' || id.startsWith('mobilenet_v2')));
        const kernels = model.weights.filter((w) => /kernel$/.test(w.originalName)).reduce((sum, w) => sum + w.shape.reduce((a, b) => a! * b!, 1)!, 0);
        const published = publishedMillions[id] * 1e6;
        assert.ok(Math.abs(kernels - published) / published < 0.02, `${id}: ${kernels} weights, published ${publishedMillions[id]} M`);
      } finally {
        model.dispose();
      }
    });
  }
});

describe('a graph whose batch norms were not folded by the converter', () => {
  test('is folded while building the twin, which still agrees with the GraphModel', async () => {
    for (const version of [1, 2] as const) {
      const fixture = hubMobileNetGraph({ version, alpha: version === 1 ? 0.25 : 0.5, imageSize: 64, unfoldedBatchNorm: true });
      const files = filesOf(fixture);
      const ops = new Set((files.modelJson.modelTopology as { node: { op: string }[] }).node.map((node) => node.op));
      assert.ok(ops.has('FusedBatchNormV3') && ops.has('Relu6') && !ops.has('FusedDepthwiseConv2dNative'));
      const { model } = buildTwinFromGraph(mobileNetLayout(version, version === 1 ? 0.25 : 0.5), files, 64);
      const graph = await tf.loadGraphModel(ioHandlerFor(files));
      const images = await realImages(64);
      try {
        const fromGraph = graph.execute(images, fixture.logitsNode) as tf.Tensor;
        const fromTwin = model.predict(images) as tf.Tensor;
        const error = relativeError(fromTwin, fromGraph);
        tf.dispose([fromGraph, fromTwin]);
        assert.ok(error < 1e-4, `v${version} logits relative error ${error}`);
      } finally {
        tf.dispose(images);
        graph.dispose();
        model.dispose();
      }
    }
  });
});

describe('a hub-format GraphModel served by a loopback TF Hub becomes its twin', () => {
  let hub: LoopbackHub;
  const fixtures = new Map<string, HubFixture>();
  const served = ['mobilenet_v1_0.25', 'mobilenet_v2_1.00'];

  before(async () => {
    const routes = new Map<string, Map<string, Buffer>>();
    for (const id of served) {
      const parsed = parseHubMobileNetId(id)!;
      const fixture = hubMobileNetGraph({ version: parsed.version, alpha: Number(parsed.alpha), seed: 5 });
      fixtures.set(id, fixture);
      routes.set(parsed.hubPath, fixture.files);
    }
    // A v2 0.75 graph where TF Hub's v2 0.50 should be: it has the right nodes but not the shapes.
    routes.set(parseHubMobileNetId('mobilenet_v2_0.50')!.hubPath, hubMobileNetGraph({ version: 2, alpha: 0.75, imageSize: 96 }).files);
    hub = await serveLoopbackHub(routes);
  });

  after(async () => {
    await hub.close();
  });

  for (const id of served) {
    test(`${id}: embedding and logits agree with the GraphModel within 1e-4 on real images`, async (t) => {
      const cacheDir = temporaryDir('hub-cache');
      const base = await sourceFor(hub.url, cacheDir).load(id);
      const graph = await tf.loadGraphModel(ioHandlerFor(readModelFiles(path.join(cacheDir, 'hub', id))));
      const images = await realImages(224);
      try {
        assert.equal(base.network.kind, 'layers');
        if (base.network.kind !== 'layers') return;
        assert.equal(base.twinOf?.hubPath, parseHubMobileNetId(id)!.hubPath);
        assert.ok((base.timings?.twin_s ?? -1) >= 0);
        const twin = base.network.model;
        const embeddingLayer = id.startsWith('mobilenet_v1') ? 'Logits_global_pool' : 'Logits_AvgPool';
        const embeddingModel = tf.model({ inputs: twin.inputs, outputs: twin.getLayer(embeddingLayer).output as tf.SymbolicTensor });
        const fixture = fixtures.get(id)!;
        const [graphEmbedding, graphLogits] = graph.execute(images, [fixture.embeddingNode, fixture.logitsNode]) as tf.Tensor[];
        const twinEmbedding = embeddingModel.predict(images) as tf.Tensor;
        const twinLogits = twin.predict(images) as tf.Tensor;
        const embeddingError = relativeError(twinEmbedding, graphEmbedding);
        const logitsError = relativeError(twinLogits, graphLogits);
        t.diagnostic(`relative error: embedding ${embeddingError.toExponential(2)}, logits ${logitsError.toExponential(2)}`);
        assert.ok(embeddingError < 1e-4, `embedding relative error ${embeddingError}`);
        assert.ok(logitsError < 1e-4, `logits relative error ${logitsError}`);
        // The comparison means something only if the activations are spread, not all clipped or zero.
        const spread = tf.tidy(() => tf.moments(graphEmbedding).variance.dataSync()[0]);
        assert.ok(spread > 1e-3, `embedding variance ${spread}`);
        tf.dispose([graphEmbedding, graphLogits, twinEmbedding, twinLogits]);
      } finally {
        images.dispose();
        graph.dispose();
        base.dispose();
      }
    });
  }

  test('a download without the MobileNet layout stays a GraphModel, with the reason logged', async () => {
    const lines: string[] = [];
    const logger: Logger = { info: (line) => lines.push(line), warn: (line) => lines.push(`warning: ${line}`) };
    const base = await sourceFor(hub.url, temporaryDir('hub-cache'), logger).load('mobilenet_v2_0.50');
    base.dispose();
    assert.equal(base.network.kind, 'graph');
    assert.equal(base.twinOf, undefined);
    const warning = lines.find((line) => line.startsWith('warning:')) ?? '';
    assert.match(warning, /not laid out as the TF Hub mobilenet_v2_0\.50 .*shape \[3, 3, 3, 24\].*expects \[3, 3, 3, 16\].*frozen features only/);
  });
});

describe('fine-tuning a twin runs on the project training kernels', () => {
  test('deep fine-tuning of a twin reaches down to the block where features stopped transferring', () => {
    const { model } = twinOf('mobilenet_v2_0.50', 64);
    const base: BaseModel = {
      id: 'mobilenet_v2_0.50',
      source: 'fixture',
      sha256: 'f'.repeat(64),
      inputSize: 224,
      inputRange: [0, 1],
      network: { kind: 'layers', model },
      lastFeatureLayer: 'Conv_1_Relu6',
      candidateLayers: [],
      dispose: () => model.dispose(),
    };
    try {
      const similarity: Similarity = { category: 'different', scores: [], best: 'expanded_conv_10_expand_Relu6', reason: 'measured' };
      const boundary = chooseFreezeBoundary({ base, requestedPolicy: 'auto', size: 'large', similarity, cutLayer: '', topBlocks: 2, deepBlocks: 12, headLayers: ['head'] });
      assert.equal(boundary.policy, 'deep');
      assert.deepEqual(boundary.fineTune, { until: 'Conv_1_Relu6', blocks: 7 });
      assert.equal(boundary.cutLayer, 'expanded_conv_9_add');
    } finally {
      base.dispose();
    }
  });

  test("a v1 twin's blocks are numbered as TF-slim's Conv2d_<n> scopes, so top and deep policies find their boundary", () => {
    const { model } = twinOf('mobilenet_v1_0.25', 64);
    try {
      assert.deepEqual(blockNumbers(model), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
      assert.deepEqual(boundaryBelowTopBlocks(model, 3), { boundary: 'Conv2d_10_pointwise_Relu6', firstBlock: 11 });
    } finally {
      model.dispose();
    }
  });

  test("the top blocks' gradients on wasm take the fast kernels, for every kernel and bias", async () => {
    const { model } = twinOf('mobilenet_v2_0.50', 64);
    const { boundary } = boundaryBelowTopBlocks(model, 2);
    const top = segmentBetween(model, boundary, 'Conv_1_Relu6', [4, 4, 80]);
    const x = tf.tidy(() => tf.randomUniform([2, 4, 4, 80], 0, 2, 'float32', 9));
    const variables = top.trainableWeights.map((w) => w.read() as tf.Variable);
    try {
      registerTrainingKernels('wasm');
      resetTrainingKernelStats();
      const { grads, value } = tf.variableGrads(() => tf.tidy(() => (top.apply(x) as tf.Tensor).square().mean() as tf.Scalar), variables);
      const onWasm = Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, g.dataSync()]));
      tf.dispose([value, ...Object.values(grads)]);
      const stats = trainingKernelStats();
      for (const name of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput']) {
        assert.ok((stats[`wasm/${name}`]?.fast ?? 0) > 0, `${name} took the fast path on wasm: ${JSON.stringify(stats)}`);
        assert.equal(stats[`wasm/${name}`]?.fallback ?? 0, 0, `${name} fell back`);
      }
      const trainable = variables.map((variable) => variable.name);
      assert.ok(top.trainableWeights.some((w) => /depthwise/.test(w.originalName)) && top.trainableWeights.some((w) => /bias/.test(w.originalName)));
      assert.deepEqual(Object.keys(onWasm).sort(), [...trainable].sort(), 'every kernel and bias of the top blocks gets a gradient');
      for (const [name, values] of Object.entries(onWasm)) {
        assert.ok(values.every(Number.isFinite) && values.some((v) => v !== 0), `${name}: gradient finite and not all zero`);
      }
    } finally {
      restoreStockKernels('wasm');
      tf.dispose(x);
      model.dispose();
    }
  });
});
