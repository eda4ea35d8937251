import * as tf from '@tensorflow/tfjs';
import type { BaseModel } from '../models/base-model';
import { buildDepthProbe, buildFrozenPart } from '../models/frozen-part';
import type { Pooling } from '../models/grid-pooling';
import { forwardGraph, forwardLayers, layersForward, type FrozenPartSpec } from './frozen-forward';

/**
 * Runs the frozen part in inference mode: raw RGB [0, 255] batches in; pooled feature vectors
 * (T = Tensor2D, the default) or the raw activation at the cut (pool: false, e.g. [N, 14, 14, 96]) out.
 */
export interface FrozenRunner<T extends tf.Tensor = tf.Tensor2D> {
  /** Layers (or graph) of the frozen part, when it is a LayersModel. */
  readonly model?: tf.LayersModel;
  /** True when run() returns pooled vectors [N, C]; false when it returns the activation at the cut. */
  readonly pooled: boolean;
  /** Shape of one image's output (no batch dimension), where known without running: [C] or [H, W, C]. */
  readonly featureShape?: number[];
  run(pixels: tf.Tensor4D): T;
  /** The frozen part as plain data, for a worker thread to rebuild it with its own tfjs (frozen-worker.ts). */
  spec(): Promise<FrozenPartSpec>;
  dispose(): void;
}

export interface FrozenRunnerOptions {
  /** Global-average-pool rank-4 outputs into vectors (default true); false returns the activation at the cut. */
  pool?: boolean;
  /** With pool: average over the whole map (default), or over a 2x2 grid (LayersModel bases only). */
  pooling?: Pooling;
  /** Run a LayersModel frozen part compiled (fused ops, batch norm folded; the default) or through predict. */
  compiled?: boolean;
}

function joinWeightData(data: ArrayBuffer | ArrayBuffer[] | undefined): ArrayBuffer {
  if (data === undefined) return new ArrayBuffer(0);
  if (!Array.isArray(data)) return data;
  const joined = new Uint8Array(data.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of data) {
    joined.set(new Uint8Array(part), offset);
    offset += part.byteLength;
  }
  return joined.buffer;
}

/** Serializes a LayersModel (topology + float32 weights, exactly as held in memory) without touching disk. */
async function layersModelArtifacts(model: tf.LayersModel): Promise<{ modelTopology: object; weightSpecs: tf.io.WeightsManifestEntry[]; weightData: ArrayBuffer }> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved?.modelTopology || !saved.weightSpecs) throw new Error(`could not serialize the frozen part ${model.name}`);
  return { modelTopology: saved.modelTopology as object, weightSpecs: saved.weightSpecs, weightData: joinWeightData(saved.weightData as ArrayBuffer | ArrayBuffer[]) };
}

export function createFrozenRunner(base: BaseModel, cutLayer: string, imageSize: number, options?: { pool?: true; pooling?: Pooling; compiled?: boolean }): FrozenRunner<tf.Tensor2D>;
export function createFrozenRunner(base: BaseModel, cutLayer: string, imageSize: number, options: { pool: false; compiled?: boolean }): FrozenRunner<tf.Tensor>;
export function createFrozenRunner(base: BaseModel, cutLayer: string, imageSize: number, options?: FrozenRunnerOptions): FrozenRunner<tf.Tensor>;
export function createFrozenRunner(base: BaseModel, cutLayer: string, imageSize: number, options: FrozenRunnerOptions = {}): FrozenRunner<tf.Tensor> {
  const pool = options.pool ?? true;
  const compiled = options.compiled ?? true;
  if (base.network.kind === 'layers') {
    const model = buildFrozenPart(base, cutLayer, imageSize, pool ? options.pooling : 'average');
    const outputShape = (model.outputs[0].shape as (number | null)[]).slice(1);
    const known = outputShape.every((d): d is number => typeof d === 'number');
    const featureShape = !known ? undefined : !pool ? outputShape : outputShape.length === 3 ? [outputShape[2]] : [outputShape.reduce((a, b) => a * b, 1)];
    const forward = layersForward(model, compiled);
    return {
      model,
      pooled: pool,
      featureShape: featureShape as number[] | undefined,
      run: (pixels) => forwardLayers(forward, pixels, pool),
      spec: async () => ({ kind: 'layers', ...(await layersModelArtifacts(model)), pool, compiled }),
      // The frozen part shares its layers with the base; the base owns (and disposes) the weights,
      // the runner only the compiled copy.
      dispose: () => forward.dispose(),
    };
  }
  if (options.pooling === 'grid') throw new Error(`grid pooling needs a LayersModel base; ${base.id} is a GraphModel`);
  const { model, outputNode, files } = base.network;
  const inputRange: [number, number] = [base.inputRange[0], base.inputRange[1]];
  return {
    pooled: pool,
    run: (pixels) => forwardGraph(model, outputNode, inputRange, pixels, pool),
    spec: async () => ({
      kind: 'graph',
      files: { modelJson: files.modelJson, weightSpecs: files.weightSpecs, weightData: files.weightData },
      outputNode,
      inputRange,
      pool,
    }),
    dispose: () => undefined,
  };
}

/**
 * A runner whose features are the pooled outputs of several depths side by side (widths says
 * where each ends), so that one pass, in this thread or in workers, scores every candidate depth.
 */
export function createProbeRunner(
  base: BaseModel,
  layers: string[],
  imageSize: number,
  options: { compiled?: boolean } = {},
): FrozenRunner<tf.Tensor2D> & { widths: number[]; gridWidths: number[] } {
  const { model, widths, gridWidths } = buildDepthProbe(base, layers, imageSize);
  const compiled = options.compiled ?? true;
  const forward = layersForward(model, compiled);
  return {
    model,
    widths,
    gridWidths,
    pooled: true,
    featureShape: [[...widths, ...gridWidths].reduce((a, b) => a + b, 0)],
    run: (pixels) => forwardLayers(forward, pixels, false) as tf.Tensor2D,
    spec: async () => ({ kind: 'layers', ...(await layersModelArtifacts(model)), pool: false, compiled }),
    dispose: () => forward.dispose(),
  };
}
