import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DataError } from '../../src/errors';
import {
  composeGraphClassifier,
  GRAPH_CLASSIFIER_INPUT,
  GRAPH_CLASSIFIER_OUTPUT,
  GRAPH_CLASSIFIER_SHARD,
  type ComposedGraphClassifier,
} from '../../src/export/compose-graph-classifier';
import { createFrozenRunner } from '../../src/features/frozen-runner';
import type { BaseModel } from '../../src/models/base-model';
import { ioHandlerFor, readModelFiles, type ModelFiles } from '../../src/models/model-files';
import { buildHead } from '../../src/train/head';
import { fixtureGraphFiles } from '../helpers/graph-fixture';

const predictPrefix = 'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict';
const nodes = {
  lastConv: `${predictPrefix}/MobilenetV2/Conv_1/Relu6`,
  avgPool: `${predictPrefix}/MobilenetV2/Logits/AvgPool`,
  squeeze: `${predictPrefix}/feature_vector/SpatialSqueeze`,
};
/** The fixture's own classifier: a dense layer on the squeezed features, then softmax. */
const classifierNodes = ['StatefulPartitionedCall/sequential/dense/BiasAdd', 'StatefulPartitionedCall/sequential/prediction/Softmax', 'Identity'];
const inputSize = 224;

interface GraphNode {
  name: string;
  op: string;
  input?: string[];
}

function fixtureFiles(): ModelFiles {
  const files = fixtureGraphFiles();
  assert.deepEqual(files.modelJson.weightsManifest[0].paths, ['group1-shard1of2', 'group1-shard2of2'], 'nsfwjs fixture layout changed');
  return files;
}

function graphBase(model: tf.GraphModel, inputRange: [number, number], outputNode?: string): BaseModel {
  return {
    id: 'nsfwjs-mobilenet_v2_mid',
    source: 'nsfwjs fixture',
    sha256: 'unused',
    inputSize,
    inputRange,
    network: { kind: 'graph', model, outputNode, files },
    lastFeatureLayer: outputNode ?? 'Identity',
    candidateLayers: [outputNode ?? 'Identity'],
    dispose: () => undefined,
  };
}

function topologyNodes(modelJson: tf.io.ModelJSON): GraphNode[] {
  return (modelJson.modelTopology as { node: GraphNode[] }).node;
}

function bytesOf(spec: tf.io.WeightsManifestEntry): number {
  const perElement = spec.quantization ? { uint8: 1, uint16: 2, float16: 2 }[spec.quantization.dtype as string]! : 4;
  return spec.shape.reduce((product, dim) => product * dim, 1) * perElement;
}

/** Byte range of each weight in the concatenated data, by manifest order. */
function weightSlices(specs: tf.io.WeightsManifestEntry[], data: ArrayBuffer): Map<string, Buffer> {
  const slices = new Map<string, Buffer>();
  let offset = 0;
  for (const spec of specs) {
    slices.set(spec.name, Buffer.from(data, offset, bytesOf(spec)));
    offset += bytesOf(spec);
  }
  assert.equal(offset, data.byteLength, 'weight data length matches the manifest');
  return slices;
}

async function maxDifference(actual: tf.Tensor, expected: tf.Tensor): Promise<number> {
  const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(actual, expected))));
  const value = (await difference.data())[0];
  difference.dispose();
  return value;
}

let workDir: string;
let files: ModelFiles;
let baseModel: tf.GraphModel;
let pixels: tf.Tensor4D;

before(async () => {
  await tf.setBackend('wasm');
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-graph-'));
  files = fixtureFiles();
  baseModel = await tf.loadGraphModel(ioHandlerFor(files));
  pixels = tf.randomUniform([2, inputSize, inputSize, 3], 0, 255, 'float32', 7) as tf.Tensor4D;
});

after(() => {
  pixels.dispose();
  baseModel.dispose();
  fs.rmSync(workDir, { recursive: true, force: true });
});

/** Features and probabilities as training and the LayersModel export compute them. */
function expectedFor(inputRange: [number, number], outputNode: string | undefined, hiddenUnits: number): { head: tf.Sequential; expected: tf.Tensor } {
  const runner = createFrozenRunner(graphBase(baseModel, inputRange, outputNode), outputNode ?? '', inputSize);
  const features = runner.run(pixels);
  const head = buildHead({ numFeatures: features.shape[1], numClasses: 3, hiddenUnits, seed: 1 });
  const expected = head.predict(features) as tf.Tensor;
  features.dispose();
  return { head, expected };
}

/** Writes model.json and its one shard into a fresh folder, as an export would. */
function writeComposed(composed: ComposedGraphClassifier): string {
  const dir = fs.mkdtempSync(path.join(workDir, 'model-'));
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(composed.modelJson));
  fs.writeFileSync(path.join(dir, GRAPH_CLASSIFIER_SHARD), Buffer.from(composed.weightData));
  return dir;
}

/** Serves a folder over loopback HTTP so plain tf.loadGraphModel(url) reads it as any TensorFlow.js program would. */
async function serve(dir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((request, response) => {
    const file = path.join(dir, path.basename(new URL(request.url ?? '/', 'http://localhost').pathname));
    if (!fs.existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200).end(fs.readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.json`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Loads the composed model the given way, checks its one input and output, and returns max |composed - expected|. */
async function checkLoaded(model: tf.GraphModel, expected: tf.Tensor, how: string): Promise<number> {
  try {
    assert.equal(model.inputs.length, 1, `${how}: one input`);
    assert.deepEqual(model.inputs[0].shape, [-1, inputSize, inputSize, 3], `${how}: input shape`);
    assert.equal(model.outputs.length, 1, `${how}: one output`);
    const output = model.predict(pixels);
    assert.ok(output instanceof tf.Tensor, `${how}: predict returns one tensor`);
    assert.deepEqual(output.shape, [2, 3], `${how}: output shape`);
    const difference = await maxDifference(output, expected);
    output.dispose();
    return difference;
  } finally {
    model.dispose();
  }
}

const cases: { title: string; outputNode?: string; inputRange: [number, number]; hiddenUnits: number; mean: boolean }[] = [
  { title: 'a rank-4 feature map (7x7), mean-pooled, with a hidden layer', outputNode: nodes.lastConv, inputRange: [0, 1], hiddenUnits: 8, mean: true },
  { title: 'a rank-4 pooled map (1x1), without a hidden layer', outputNode: nodes.avgPool, inputRange: [0, 1], hiddenUnits: 0, mean: true },
  { title: 'rank-2 features, inputRange [-1, 1], without a hidden layer', outputNode: nodes.squeeze, inputRange: [-1, 1], hiddenUnits: 0, mean: false },
  { title: "the graph's own output when no outputNode is given, with a hidden layer", inputRange: [0, 1], hiddenUnits: 8, mean: false },
];

describe('composeGraphClassifier on the nsfwjs mobilenet_v2_mid GraphModel', () => {
  for (const { title, outputNode, inputRange, hiddenUnits, mean } of cases) {
    test(title, async () => {
      const { head, expected } = expectedFor(inputRange, outputNode, hiddenUnits);
      try {
        const tensorsBefore = tf.memory().numTensors;
        const composed = composeGraphClassifier({ files, outputNode, inputRange, inputSize }, head);
        assert.equal(tf.memory().numTensors, tensorsBefore, 'composing leaves no tensors behind');

        // Structure: one new input, pooled features, the head, one output; the base's classifier pruned.
        const { modelJson, weightData } = composed;
        assert.equal(modelJson.format, 'graph-model');
        assert.deepEqual(modelJson.weightsManifest.map((group) => group.paths), [[GRAPH_CLASSIFIER_SHARD]]);
        const graphNodes = topologyNodes(modelJson);
        const names = new Set(graphNodes.map((node) => node.name));
        assert.equal(graphNodes.filter((node) => node.op === 'Placeholder').length, 1);
        assert.equal(graphNodes.find((node) => node.op === 'Placeholder')?.name, GRAPH_CLASSIFIER_INPUT);
        assert.equal(graphNodes.find((node) => node.name === 'input')?.op, 'AddV2', "the base's input placeholder now scales the new input");
        const consumed = new Set(graphNodes.flatMap((node) => node.input ?? []).map((input) => input.replace(/^\^/, '').replace(/:\d+$/, '')));
        assert.deepEqual(graphNodes.filter((node) => !consumed.has(node.name)).map((node) => node.name), [GRAPH_CLASSIFIER_OUTPUT], 'the output is the only sink');
        assert.equal(graphNodes.some((node) => node.op === 'Mean'), mean);
        assert.equal(graphNodes.some((node) => node.name === 'finetune/head_hidden/Relu'), hiddenUnits > 0);
        assert.ok(names.has('finetune/head_probabilities/Softmax'));
        if (outputNode) for (const name of classifierNodes) assert.ok(!names.has(name), `${name} is pruned`);
        assert.deepEqual(Object.keys(modelJson.signature as object), ['inputs', 'outputs']);

        // Weights: exactly one per Const node, base weights verbatim (quantized), one shard of the right size.
        const specs = modelJson.weightsManifest[0].weights;
        const constNames = graphNodes.filter((node) => node.op === 'Const').map((node) => node.name).sort();
        assert.deepEqual(specs.map((spec) => spec.name).sort(), constNames, 'no unused weight and no Const without a weight');
        const composedSlices = weightSlices(specs, weightData);
        const baseSlices = weightSlices(files.weightSpecs, files.weightData);
        const baseSpecs = new Map(files.weightSpecs.map((spec) => [spec.name, spec]));
        let baseBytesKept = 0;
        for (const spec of specs) {
          const original = baseSpecs.get(spec.name);
          if (!original) {
            assert.ok(spec.name.startsWith('finetune/'), `${spec.name} is new`);
            continue;
          }
          assert.deepEqual(spec, original, `${spec.name} keeps its spec`);
          assert.ok(composedSlices.get(spec.name)!.equals(baseSlices.get(spec.name)!), `${spec.name} keeps its bytes`);
          baseBytesKept += bytesOf(spec);
        }
        if (outputNode) {
          assert.ok(baseBytesKept < files.weightData.byteLength, `the cut drops the classifier's weights (${baseBytesKept} of ${files.weightData.byteLength} bytes kept)`);
        }

        // From memory, with every model.json field.
        const fromMemory = await tf.loadGraphModel(
          tf.io.fromMemory({
            modelTopology: modelJson.modelTopology,
            weightSpecs: specs,
            weightData,
            format: modelJson.format,
            generatedBy: modelJson.generatedBy,
            convertedBy: modelJson.convertedBy,
            signature: modelJson.signature,
            userDefinedMetadata: modelJson.userDefinedMetadata,
          }),
        );
        assert.ok((await checkLoaded(fromMemory, expected, 'from memory')) < 1e-4);

        // From a folder: served over HTTP to plain tf.loadGraphModel, and read by the project's reader (no signature).
        const dir = writeComposed(composed);
        const server = await serve(dir);
        try {
          const difference = await checkLoaded(await tf.loadGraphModel(server.url), expected, 'tf.loadGraphModel(url)');
          assert.ok(difference < 1e-4, `max difference ${difference}`);
        } finally {
          await server.close();
        }
        const difference = await checkLoaded(await tf.loadGraphModel(ioHandlerFor(readModelFiles(dir))), expected, 'readModelFiles');
        assert.ok(difference < 1e-4, `max difference ${difference}`);
        assert.equal(tf.memory().numTensors, tensorsBefore, 'loading, predicting and disposing leave no tensors behind');
      } finally {
        head.dispose();
        expected.dispose();
      }
    });
  }
});

describe('composeGraphClassifier errors', () => {
  test('an outputNode the base does not have is named, with existing nodes to choose from', () => {
    const head = buildHead({ numFeatures: 1280, numClasses: 3, seed: 1 });
    const tensorsBefore = tf.memory().numTensors;
    try {
      // The TF Hub MobileNet embedding node, which this (non-Hub) graph names differently.
      assert.throws(
        () => composeGraphClassifier({ files, outputNode: 'module_apply_default/MobilenetV2/Logits/AvgPool', inputRange: [0, 1], inputSize }, head),
        (error: unknown) => {
          assert.ok(error instanceof DataError, `expected a DataError, got ${String(error)}`);
          assert.match(error.message, /no node "module_apply_default\/MobilenetV2\/Logits\/AvgPool"/);
          assert.ok(error.message.includes(`"${nodes.avgPool}"`), `suggests the similar node: ${error.message}`);
          return true;
        },
      );
      assert.throws(
        () => composeGraphClassifier({ files, outputNode: 'no/such/node', inputRange: [0, 1], inputSize }, head),
        (error: unknown) => {
          assert.ok(error instanceof DataError);
          assert.match(error.message, /no node "no\/such\/node"/);
          assert.ok(error.message.includes('"Identity"'), `lists existing nodes: ${error.message}`);
          return true;
        },
      );
      assert.equal(tf.memory().numTensors, tensorsBefore);
    } finally {
      head.dispose();
    }
  });

  test('a head whose width does not match the features is refused before anything is written', () => {
    const head = buildHead({ numFeatures: 7, numClasses: 3, seed: 1 });
    const tensorsBefore = tf.memory().numTensors;
    try {
      assert.throws(
        () => composeGraphClassifier({ files, outputNode: nodes.squeeze, inputRange: [0, 1], inputSize }, head),
        (error: unknown) => error instanceof DataError && /head takes 7 features/.test(error.message) && error.message.includes(nodes.squeeze),
      );
      assert.equal(tf.memory().numTensors, tensorsBefore);
    } finally {
      head.dispose();
    }
  });

  test('a base input of another size is refused', () => {
    const head = buildHead({ numFeatures: 5, numClasses: 3, seed: 1 });
    try {
      assert.throws(
        () => composeGraphClassifier({ files, inputRange: [0, 1], inputSize: 160 }, head),
        (error: unknown) => error instanceof DataError && /input "input" has shape \[-1, 224, 224, 3\]; expected \[-1, 160, 160, 3\]/.test(error.message),
      );
    } finally {
      head.dispose();
    }
  });

  test('string weights fail clearly', () => {
    const head = buildHead({ numFeatures: 5, numClasses: 3, seed: 1 });
    const weightSpecs = files.weightSpecs.map((spec, index) => (index === 0 ? { ...spec, dtype: 'string' as const, quantization: undefined } : spec));
    try {
      assert.throws(
        () => composeGraphClassifier({ files: { ...files, weightSpecs }, inputRange: [0, 1], inputSize }, head),
        (error: unknown) => error instanceof DataError && /dtype string/.test(error.message) && error.message.includes(weightSpecs[0].name),
      );
    } finally {
      head.dispose();
    }
  });
});
