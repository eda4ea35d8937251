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

export interface DepthProbe {
  model: tf.LayersModel;
  /** Width of each depth's global-average-pooled features, in the order of the layers. */
  widths: number[];
  /** Width of each depth's 2x2-grid-pooled features, which follow; empty when a map is smaller than 2x2. */
  gridWidths: number[];
}

/**
 * Probes of several depths in one pass: each candidate layer's output, global-average-pooled,
 * concatenated in the order given, then (when every map allows it) the same outputs pooled over a
 * 2x2 grid, so that one pass also tells whether where features appear matters.
 */
export function buildDepthProbe(base: BaseModel, layers: string[], imageSize: number): DepthProbe {
  const { image, scaled, model } = scaledInput(base, imageSize);
  const taps = replayTaps(model, scaled, layers);
  const pooled = taps.map((tap, i) => tf.layers.globalAveragePooling2d({ name: `probe_pool_${i}` }).apply(tap) as tf.SymbolicTensor);
  const gridded = taps.every((tap) => (tap.shape[1] as number) >= 2 && (tap.shape[2] as number) >= 2)
    ? taps.map((tap, i) => applyGridPooling(tap, `probe_${i}`))
    : [];
  const outputs = [...pooled, ...gridded];
  const joined = outputs.length === 1 ? outputs[0] : (tf.layers.concatenate({ name: 'probe_concat' }).apply(outputs) as tf.SymbolicTensor);
  const widthOf = (t: tf.SymbolicTensor) => t.shape[1] as number;
  return { model: tf.model({ inputs: image, outputs: joined, name: 'depth_probe' }), widths: pooled.map(widthOf), gridWidths: gridded.map(widthOf) };
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
