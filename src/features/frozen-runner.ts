import * as tf from '@tensorflow/tfjs';
import type { BaseModel } from '../models/base-model';
import { buildFrozenPart } from '../models/frozen-part';

/** Runs the frozen part in inference mode: raw RGB [0, 255] batches in, pooled feature vectors out. */
export interface FrozenRunner {
  /** Layers (or graph) of the frozen part, when it is a LayersModel. */
  readonly model?: tf.LayersModel;
  run(pixels: tf.Tensor4D): tf.Tensor2D;
  dispose(): void;
}

function pool(features: tf.Tensor): tf.Tensor2D {
  if (features.rank === 4) return tf.mean(features, [1, 2]) as tf.Tensor2D;
  if (features.rank === 2) return features as tf.Tensor2D;
  return tf.reshape(features, [features.shape[0], -1]) as tf.Tensor2D;
}

export function createFrozenRunner(base: BaseModel, cutLayer: string, imageSize: number): FrozenRunner {
  if (base.network.kind === 'layers') {
    const model = buildFrozenPart(base, cutLayer, imageSize);
    return {
      model,
      run: (pixels) => tf.tidy(() => pool(model.predict(pixels) as tf.Tensor)),
      // The frozen part shares its layers with the base; the base owns (and disposes) the weights.
      dispose: () => undefined,
    };
  }
  const { model, outputNode } = base.network;
  const [low, high] = base.inputRange;
  return {
    run: (pixels) =>
      tf.tidy(() => {
        const scaled = tf.add(tf.mul(pixels, (high - low) / 255), low);
        const output = (outputNode ? model.execute(scaled, outputNode) : model.predict(scaled)) as tf.Tensor;
        return pool(output);
      }),
    dispose: () => undefined,
  };
}
