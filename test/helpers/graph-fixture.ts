import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { BaseModel } from '../../src/models/base-model';
import { ioHandlerFor, type ModelFiles } from '../../src/models/model-files';

/** Node of nsfwjs' mobilenet_v2_mid whose output is the pooled MobileNetV2 features (as TF Hub's AvgPool). */
export const fixtureAvgPoolNode =
  'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict/MobilenetV2/Logits/AvgPool';

/** nsfwjs' mobilenet_v2_mid GraphModel (JS modules: the model.json object and base64 shards) as ModelFiles. */
export function fixtureGraphFiles(): ModelFiles {
  const dir = path.resolve(path.dirname(require.resolve('nsfwjs')), '..', 'models', 'mobilenet_v2_mid');
  const modelJson = JSON.parse(JSON.stringify(require(path.join(dir, 'model.min.js')))) as tf.io.ModelJSON;
  const shards = modelJson.weightsManifest[0].paths.map((shard) => Buffer.from(require(path.join(dir, `${shard}.min.js`)) as string, 'base64'));
  const hash = createHash('sha256').update(JSON.stringify(modelJson.modelTopology));
  for (const shard of shards) hash.update(shard);
  const all = Buffer.concat(shards);
  return {
    modelJson,
    weightSpecs: modelJson.weightsManifest.flatMap((group) => group.weights),
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer,
    sha256: hash.digest('hex'),
  };
}

/** The fixture as a GraphModel base with an embedding node, as HubMobileNetSource returns TF Hub's. */
export async function loadFixtureGraphBase(id = 'fixture-graph'): Promise<BaseModel> {
  const files = fixtureGraphFiles();
  const model = await tf.loadGraphModel(ioHandlerFor(files));
  return {
    id,
    source: 'nsfwjs mobilenet_v2_mid',
    sha256: files.sha256,
    inputSize: 224,
    inputRange: [0, 1],
    network: { kind: 'graph', model, outputNode: fixtureAvgPoolNode, files },
    lastFeatureLayer: fixtureAvgPoolNode,
    candidateLayers: [fixtureAvgPoolNode],
    dispose: () => model.dispose(),
  };
}
