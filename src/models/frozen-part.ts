import * as tf from '@tensorflow/tfjs';
import type { BaseModel } from './base-model';
import { replayUpTo } from './network-surgery';

/**
 * The frozen part as one model: raw RGB in [0, 255] -> rescaling to the base's input range
 * -> the base up to the cut layer. It is only ever run for inference (predict), so its batch
 * norm layers use their moving statistics and nothing in it changes.
 */
export function buildFrozenPart(base: BaseModel, cutLayer: string, imageSize: number): tf.LayersModel {
  if (base.network.kind !== 'layers') throw new Error('buildFrozenPart needs a LayersModel base');
  const [low, high] = base.inputRange;
  const image = tf.input({ shape: [imageSize, imageSize, 3], name: 'image' });
  const taken = new Set(base.network.model.layers.map((layer) => layer.name));
  let name = 'input_rescaling';
  for (let i = 1; taken.has(name); i++) name = `input_rescaling_${i}`;
  const scaled = tf.layers.rescaling({ scale: (high - low) / 255, offset: low, name }).apply(image) as tf.SymbolicTensor;
  const features = replayUpTo(base.network.model, scaled, cutLayer);
  return tf.model({ inputs: image, outputs: features, name: 'frozen_part' });
}
