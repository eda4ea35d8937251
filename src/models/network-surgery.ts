import * as tf from '@tensorflow/tfjs';
import { DataError } from '../errors';

export function requireLayer(model: tf.LayersModel, name: string): tf.layers.Layer {
  try {
    return model.getLayer(name);
  } catch {
    const names = model.layers.map((layer) => layer.name);
    throw new DataError(
      `Layer "${name}" is not in the base model. Expected one of its ${names.length} layers, e.g. ${names.slice(-8).join(', ')}.`,
    );
  }
}

/**
 * Applies the base's layers that come after `from` (the base's input when absent), in order, to
 * a new symbolic tensor standing for `from`'s output, until `until`. Layers and weights are
 * shared, not copied, so the result can be wired into a larger model. The base's own graph is
 * node 0 of each layer; replays add nodes, which is why layer.output is never used here.
 */
export function replaySegment(model: tf.LayersModel, input: tf.SymbolicTensor, until: string, from?: string): tf.SymbolicTensor {
  return replay(model, input, until, from).get(until)!;
}

/** Replays the base on a new input like replaySegment, returning the outputs of several layers (in one pass). */
export function replayTaps(model: tf.LayersModel, input: tf.SymbolicTensor, layers: string[]): tf.SymbolicTensor[] {
  const order = layers.map((name) => {
    requireLayer(model, name);
    return model.layers.findIndex((layer) => layer.name === name);
  });
  const deepest = model.layers[Math.max(...order)].name;
  const outputs = replay(model, input, deepest);
  return layers.map((name) => outputs.get(name)!);
}

function replay(model: tf.LayersModel, input: tf.SymbolicTensor, until: string, from?: string): Map<string, tf.SymbolicTensor> {
  requireLayer(model, until);
  let start: tf.SymbolicTensor;
  let startIndex: number;
  if (from === undefined) {
    if (model.inputs.length !== 1) throw new DataError(`The base model has ${model.inputs.length} inputs; expected exactly one image input.`);
    start = model.inputs[0];
    startIndex = 0;
  } else {
    start = requireLayer(model, from).inboundNodes[0].outputTensors[0];
    startIndex = model.layers.findIndex((layer) => layer.name === from) + 1;
  }
  const replaced = new Map<tf.SymbolicTensor, tf.SymbolicTensor>([[start, input]]);
  const byLayer = new Map<string, tf.SymbolicTensor>();
  for (const layer of model.layers.slice(startIndex)) {
    if (layer.getClassName() === 'InputLayer') continue;
    const node = layer.inboundNodes[0];
    const inputs = node.inputTensors.map((tensor) => {
      const mapped = replaced.get(tensor);
      if (!mapped) {
        throw new DataError(
          `Layer ${layer.name} reads ${tensor.sourceLayer.name}, which lies before ${from ?? 'the input'}: the network cannot be cut there.`,
        );
      }
      return mapped;
    });
    const output = layer.apply(inputs.length === 1 ? inputs[0] : inputs) as tf.SymbolicTensor;
    replaced.set(node.outputTensors[0], output);
    byLayer.set(layer.name, output);
    if (layer.name === until) return byLayer;
  }
  throw new DataError(`Layer ${until} does not come after ${from ?? 'the input'} in the base.`);
}

/** Applies the base's layers to a new symbolic input until layerName (the frozen part). */
export function replayUpTo(model: tf.LayersModel, input: tf.SymbolicTensor, layerName: string): tf.SymbolicTensor {
  return replaySegment(model, input, layerName);
}

/** The last layer whose output is still a spatial feature map (rank 4): where the original classifier begins. */
export function lastFeatureMapLayer(model: tf.LayersModel): string {
  const layer = [...model.layers].reverse().find((l) => (l.outputShape as number[]).length === 4 && !/Pooling2D$/.test(l.getClassName()));
  if (!layer) throw new DataError(`The base model ${model.name} has no layer with a spatial (rank 4) output; expected an image network.`);
  return layer.name;
}

/**
 * Layer names that carry a block number: Keras MobileNetV2 (block_3_expand), and the TF Hub twins
 * named after TF-slim's scopes (expanded_conv_3_expand, Conv2d_3_depthwise).
 */
const blockPatterns = [/^block_(\d+)_/, /^expanded_conv_(\d+)_/, /^Conv2d_(\d+)_(?:depthwise|pointwise)/];

/** The block a layer belongs to, from its name; undefined for layers outside numbered blocks. */
export function blockOf(layerName: string): number | undefined {
  for (const pattern of blockPatterns) {
    const match = pattern.exec(layerName);
    if (match) return Number(match[1]);
  }
  return undefined;
}

/** Numbered blocks of a MobileNet-style base (block_1_*, block_2_*, ...), in order. */
export function blockNumbers(model: tf.LayersModel): number[] {
  const numbers = model.layers.map((layer) => blockOf(layer.name)).filter((n): n is number => n !== undefined);
  return [...new Set(numbers)].sort((a, b) => a - b);
}

/**
 * The freeze boundary below the top `count` blocks: the layer that feeds the first of them.
 * Everything after it, up to the last feature map, is fine-tuned.
 */
export function boundaryBelowTopBlocks(model: tf.LayersModel, count: number): { boundary: string; firstBlock: number } {
  const blocks = blockNumbers(model);
  if (blocks.length === 0) {
    throw new DataError(`The base model ${model.name} has no numbered blocks (block_<n>_*, expanded_conv_<n>_*, Conv2d_<n>_*); fine-tuning top blocks needs a MobileNet-style base.`);
  }
  if (!Number.isInteger(count) || count < 1 || count > blocks.length) {
    throw new DataError(`Received ${count} top blocks to fine-tune. Expected an integer from 1 to ${blocks.length} for this base.`);
  }
  const firstBlock = blocks[blocks.length - count];
  const firstLayer = model.layers.find((layer) => blockOf(layer.name) === firstBlock)!;
  return { boundary: firstLayer.inboundNodes[0].inboundLayers[0].name, firstBlock };
}

/**
 * A model of the base between `from` (exclusive) and `until`, taking `from`'s output as its input.
 * `inputShape` (without batch) overrides the base's own when images are resized differently.
 */
export function segmentBetween(model: tf.LayersModel, from: string, until: string, inputShape?: number[]): tf.LayersModel {
  const shape = inputShape ?? (requireLayer(model, from).inboundNodes[0].outputTensors[0].shape as number[]).slice(1);
  const input = tf.input({ shape, name: `${from}_activation` });
  return tf.model({ inputs: input, outputs: replaySegment(model, input, until, from), name: `${from}_to_${until}` });
}

/**
 * Candidate depths of any image network: the last layer before each drop in spatial resolution
 * (where a stage ends; padding layers, which grow the map, are passed over), then the last
 * feature map; at most `count`, the deepest stages kept.
 */
export function resolutionStageEnds(model: tf.LayersModel, count = 6): string[] {
  const last = lastFeatureMapLayer(model);
  const maps = model.layers
    .filter((layer) => (layer.outputShape as number[]).length === 4 && !['ZeroPadding2D', 'InputLayer'].includes(layer.getClassName()))
    .map((layer) => ({ name: layer.name, height: (layer.outputShape as number[])[1] }));
  const ends = maps.filter((map, i) => i + 1 < maps.length && maps[i + 1].height < map.height && map.name !== last).map((map) => map.name);
  const lastIndex = maps.findIndex((map) => map.name === last);
  const stages = ends.filter((name) => maps.findIndex((map) => map.name === name) < lastIndex);
  return [...stages.slice(-(count - 1)), last];
}
