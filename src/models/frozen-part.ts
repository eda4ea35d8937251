import * as tf from '@tensorflow/tfjs';
import type { BaseModel } from './base-model';
import { applyGridPooling, type Pooling } from './grid-pooling';
import { replayTaps, replayUpTo } from './network-surgery';

/**
 * The frozen part as one model: raw RGB in [0, 255] -> rescaling to the base's input range
 * -> the base up to the cut layer. It is only ever run for inference (predict), so its batch
 * norm layers use their moving statistics and nothing in it changes. With grid pooling it ends
 * in the (weightless) 2x2 pooling, so workers, the cache and the export all run the same layers.
 */
export function buildFrozenPart(base: BaseModel, cutLayer: string, imageSize: number, pooling: Pooling = 'average'): tf.LayersModel {
  const { image, scaled, model } = scaledInput(base, imageSize);
  const features = replayUpTo(model, scaled, cutLayer);
  const output = pooling === 'grid' ? applyGridPooling(features, cutLayer) : features;
  return tf.model({ inputs: image, outputs: output, name: 'frozen_part' });
}

/**
 * Probes of several depths in one pass: each candidate layer's output, global-average-pooled,
 * concatenated in the order given. Returns the model and each depth's width.
 */
export function buildDepthProbe(base: BaseModel, layers: string[], imageSize: number): { model: tf.LayersModel; widths: number[] } {
  const { image, scaled, model } = scaledInput(base, imageSize);
  const pooled = replayTaps(model, scaled, layers).map(
    (tap, i) => tf.layers.globalAveragePooling2d({ name: `probe_pool_${i}` }).apply(tap) as tf.SymbolicTensor,
  );
  const widths = pooled.map((t) => t.shape[1] as number);
  const joined = pooled.length === 1 ? pooled[0] : (tf.layers.concatenate({ name: 'probe_concat' }).apply(pooled) as tf.SymbolicTensor);
  return { model: tf.model({ inputs: image, outputs: joined, name: 'depth_probe' }), widths };
}

function scaledInput(base: BaseModel, imageSize: number) {
  if (base.network.kind !== 'layers') throw new Error('the frozen part of a GraphModel base is the graph itself');
  const [low, high] = base.inputRange;
  const image = tf.input({ shape: [imageSize, imageSize, 3], name: 'image' });
  const taken = new Set(base.network.model.layers.map((layer) => layer.name));
  let name = 'input_rescaling';
  for (let i = 1; taken.has(name); i++) name = `input_rescaling_${i}`;
  const scaled = tf.layers.rescaling({ scale: (high - low) / 255, offset: low, name }).apply(image) as tf.SymbolicTensor;
  return { image, scaled, model: base.network.model };
}
