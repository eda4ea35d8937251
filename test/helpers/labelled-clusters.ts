import * as tf from '@tensorflow/tfjs';
import type { LabelledData } from '../../src/train/fit';
import { clusters } from './clusters';

export type LabelledFeatures = LabelledData & { x: tf.Tensor2D };

/** Gaussian clusters as a feature tensor with labels: `n` examples of `d` features in `K` classes (round robin). */
export function labelledClusters(options: { n: number; d: number; K: number; separation?: number; noise?: number; seed: number }): LabelledFeatures {
  const { features, labels } = clusters(options.n, options.d, options.K, options.separation ?? 1.5, options.noise ?? 1, options.seed);
  const flat = new Float32Array(options.n * options.d);
  features.forEach((f, i) => flat.set(f, i * options.d));
  return { x: tf.tensor2d(flat, [options.n, options.d]), labels };
}

/** The same clusters split in two: the first `trainCount` examples for training, the rest for validation. */
export function clusterSplit(options: { n: number; trainCount: number; d: number; K: number; separation?: number; noise?: number; seed: number }): {
  train: LabelledFeatures;
  val: LabelledFeatures;
  dispose(): void;
} {
  const all = labelledClusters(options);
  const train = { x: tf.slice(all.x, 0, options.trainCount) as tf.Tensor2D, labels: all.labels.slice(0, options.trainCount) };
  const val = { x: tf.slice(all.x, options.trainCount) as tf.Tensor2D, labels: all.labels.slice(options.trainCount) };
  all.x.dispose();
  return { train, val, dispose: () => tf.dispose([train.x, val.x]) };
}

export function weightsOf(model: tf.LayersModel): number[][] {
  return model.getWeights().map((w) => Array.from(w.dataSync()));
}
