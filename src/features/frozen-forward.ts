import * as tf from '@tensorflow/tfjs';
import type { ModelFiles } from '../models/model-files';
import { compileLayersModel, type CompiledModel } from './compile-layers-model';

/**
 * The frozen part's forward pass, written once and shared by the in-process runner
 * (frozen-runner.ts) and the worker threads (frozen-worker.ts): both must run the very same
 * operations for their features to be identical bit for bit.
 */

/** Global average pooling of a feature map (rank 4), identity for vectors, flattening otherwise. */
export function poolFeatures(features: tf.Tensor): tf.Tensor2D {
  if (features.rank === 4) return tf.mean(features, [1, 2]) as tf.Tensor2D;
  if (features.rank === 2) return features as tf.Tensor2D;
  return tf.reshape(features, [features.shape[0], -1]) as tf.Tensor2D;
}

/**
 * Images per forward pass. A batch is run in slices of this many images: the activations of
 * MobileNetV2's first blocks at 224x224 take about 20 MB per image, so a whole batch of 32 would
 * grow each backend's heap to about 1 GB (per worker thread), while 8 keeps it near 250 MB at the
 * same speed. Every image's features are independent of the slice it is computed in (measured
 * bit-identical for slices of 1 to 32 on wasm), and both code paths slice the same way anyway.
 */
export const forwardSliceSize = 8;

/** Applies f to slices of at most forwardSliceSize images and concatenates the results. */
function bySlices(pixels: tf.Tensor4D, f: (slice: tf.Tensor4D) => tf.Tensor): tf.Tensor {
  const count = pixels.shape[0];
  if (count <= forwardSliceSize) return tf.tidy(() => f(pixels));
  return tf.tidy(() => {
    const parts: tf.Tensor[] = [];
    for (let start = 0; start < count; start += forwardSliceSize) {
      const length = Math.min(forwardSliceSize, count - start);
      // Each slice's intermediate activations are freed before the next slice runs.
      parts.push(tf.tidy(() => f(tf.slice(pixels, [start, 0, 0, 0], [length, -1, -1, -1]))));
    }
    return tf.concat(parts);
  });
}

/** A LayersModel's inference forward pass: compiled (fused ops over prepared weights) or its own predict. */
export interface LayersForward {
  run(input: tf.Tensor4D): tf.Tensor;
  /** Frees what the forward pass prepared (the compiled weights), never the model's own. */
  dispose(): void;
}

/**
 * The forward pass of `model`, compiled when `compiled` (the default everywhere; config
 * runtime.compiledForward turns it off), compiled on first use so that a frozen part only run by
 * worker threads never prepares weights in this one.
 */
export function layersForward(model: tf.LayersModel, compiled: boolean): LayersForward {
  if (!compiled) return { run: (input) => model.predict(input) as tf.Tensor, dispose: () => undefined };
  let compiledModel: CompiledModel | undefined;
  return {
    run: (input) => {
      compiledModel ??= compileLayersModel(model);
      return compiledModel.run(input) as tf.Tensor;
    },
    dispose: () => {
      compiledModel?.dispose();
      compiledModel = undefined;
    },
  };
}

/** LayersModel frozen part (its first layer rescales raw RGB 0..255) in inference mode, then pool or not. */
export function forwardLayers(forward: LayersForward, pixels: tf.Tensor4D, pool: boolean): tf.Tensor {
  return bySlices(pixels, (slice) => {
    const output = forward.run(slice);
    return pool ? poolFeatures(output) : output;
  });
}

/** GraphModel base: rescale raw RGB 0..255 to the input range, execute up to outputNode, then pool or not. */
export function forwardGraph(
  model: tf.GraphModel,
  outputNode: string | undefined,
  inputRange: [number, number],
  pixels: tf.Tensor4D,
  pool: boolean,
): tf.Tensor {
  const [low, high] = inputRange;
  return bySlices(pixels, (slice) => {
    const scaled = tf.add(tf.mul(slice, (high - low) / 255), low);
    const output = (outputNode ? model.execute(scaled, outputNode) : model.predict(scaled)) as tf.Tensor;
    return pool ? poolFeatures(output) : output;
  });
}

/** Raw RGB bytes (N x S x S x 3, 0..255) as the float32 batch both code paths feed the network. */
export function pixelsToTensor(bytes: Uint8Array, count: number, size: number): tf.Tensor4D {
  const expected = count * size * size * 3;
  if (bytes.length !== expected) throw new Error(`pixel batch has ${bytes.length} bytes, expected ${count}x${size}x${size}x3 = ${expected}`);
  return tf.tensor4d(Float32Array.from(bytes), [count, size, size, 3]);
}

/**
 * Everything a worker thread needs to rebuild the frozen part with its own tfjs: plain data
 * (structured-cloneable), weights as one ArrayBuffer.
 */
export type FrozenPartSpec =
  | {
      kind: 'layers';
      /** The frozen part as saved by tf.io.withSaveHandler (input rescaling included). */
      modelTopology: object;
      weightSpecs: tf.io.WeightsManifestEntry[];
      weightData: ArrayBuffer;
      pool: boolean;
      /** Run it compiled (compile-layers-model.ts) rather than through predict. */
      compiled: boolean;
    }
  | {
      kind: 'graph';
      files: Pick<ModelFiles, 'modelJson' | 'weightSpecs' | 'weightData'>;
      outputNode?: string;
      inputRange: [number, number];
      pool: boolean;
    };

/** A loaded frozen part, from a spec: what a worker runs. */
export async function loadFrozenPart(spec: FrozenPartSpec): Promise<{ run(pixels: tf.Tensor4D): tf.Tensor; dispose(): void }> {
  if (spec.kind === 'layers') {
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: spec.modelTopology, weightSpecs: spec.weightSpecs, weightData: spec.weightData }),
    );
    const forward = layersForward(model, spec.compiled);
    return {
      run: (pixels) => forwardLayers(forward, pixels, spec.pool),
      dispose: () => {
        forward.dispose();
        model.dispose();
      },
    };
  }
  const { modelJson, weightSpecs, weightData } = spec.files;
  const model = await tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs,
      weightData,
      format: modelJson.format,
      generatedBy: modelJson.generatedBy,
      convertedBy: modelJson.convertedBy,
    }),
  );
  return { run: (pixels) => forwardGraph(model, spec.outputNode, spec.inputRange, pixels, spec.pool), dispose: () => model.dispose() };
}
