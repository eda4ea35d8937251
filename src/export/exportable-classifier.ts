import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import type { FrozenRunner } from '../features/frozen-runner';
import type { BaseModel } from '../models/base-model';
import type { Plan } from '../policy/plan';
import { saveModelToDir } from '../models/model-files';
import { composeClassifier } from './compose-classifier';
import { composeGraphClassifier, GRAPH_CLASSIFIER_SHARD } from './compose-graph-classifier';

/** The trained classifier as it will be exported: raw RGB [0, 255] in, probabilities out. */
export interface ExportableClassifier {
  format: 'layers-model' | 'graph-model';
  /** In-memory predictions, to check the written files against. */
  predict(pixels: tf.Tensor4D): tf.Tensor2D;
  writeModel(dir: string): Promise<void>;
}

/**
 * A LayersModel base gives one LayersModel (frozen part, pooling, head). A GraphModel base, which
 * tfjs cannot mix with layers, gives one GraphModel composed by graph surgery.
 */
export function exportableClassifier(base: BaseModel, runner: FrozenRunner<tf.Tensor>, head: tf.Sequential, plan: Plan): ExportableClassifier {
  if (base.network.kind === 'layers') {
    const top = plan.fineTune ? { base: base.network.model, from: plan.cutLayer, until: plan.fineTune.until, pooling: plan.pooling } : undefined;
    const model = composeClassifier(runner.model!, head, top);
    return {
      format: 'layers-model',
      predict: (pixels) => model.predict(pixels) as tf.Tensor2D,
      writeModel: (dir) => saveModelToDir(model, dir),
    };
  }
  const composed = composeGraphClassifier(
    { files: base.network.files, outputNode: base.network.outputNode, inputRange: base.inputRange, inputSize: base.inputSize },
    head,
  );
  return {
    format: 'graph-model',
    predict: (pixels) => tf.tidy(() => head.predict(runner.run(pixels)) as tf.Tensor2D),
    writeModel: async (dir) => {
      fs.writeFileSync(path.join(dir, GRAPH_CLASSIFIER_SHARD), Buffer.from(composed.weightData));
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(composed.modelJson));
    },
  };
}
