import type * as tf from '@tensorflow/tfjs';
import type { interfaces } from 'inversify';
import type { ModelFiles } from './model-files';

/** A pretrained network with its input contract: it is never separated from how to feed it. */
export interface BaseModel {
  /** What the user asked for: "mobilenet_v2", "mobilenet_v1_0.50", or a folder path. */
  id: string;
  /** Where the weights came from (package file, URL, folder). */
  source: string;
  /** SHA-256 of topology and weights: keys the feature cache and goes into export metadata. */
  sha256: string;
  /** Square input side in pixels. */
  inputSize: number;
  /** Range the network expects its RGB inputs in, e.g. [0, 1] or [-1, 1]. */
  inputRange: [number, number];
  network:
    | { kind: 'layers'; model: tf.LayersModel }
    /** A GraphModel keeps its files: the export is composed from them by graph surgery. */
    | { kind: 'graph'; model: tf.GraphModel; outputNode?: string; files: ModelFiles };
  /** Layer whose output is the last feature map before the original classifier. */
  lastFeatureLayer: string;
  /** Depths scored to measure similarity, from the bottom up; the last is the top feature map. */
  candidateLayers: string[];
  /** For a trainable twin rebuilt from a downloaded GraphModel: where that graph came from. */
  twinOf?: { hubPath: string; note: string };
  /** Seconds spent on steps of loading the base (e.g. twin_s), reported with the run's timings. */
  timings?: Record<string, number>;
  /** Intermediate layer that transfers best, where known, and why. */
  recommendedCut?: { layer: string; reason: string };
  dispose(): void;
}

/** One place base models come from (a package, a folder, a hub). */
export interface BaseModelSource {
  /** True when this source knows how to load the id. */
  accepts(id: string): boolean;
  load(id: string): Promise<BaseModel>;
}
export const BaseModelSource: interfaces.ServiceIdentifier<BaseModelSource> = Symbol.for('finetune.BaseModelSource');
