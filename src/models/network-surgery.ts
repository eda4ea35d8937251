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

/** The base from its input up to (and including) a layer: the frozen part, sharing the base's weights. */
export function truncateAt(model: tf.LayersModel, layerName: string): tf.LayersModel {
  const layer = requireLayer(model, layerName);
  return tf.model({ inputs: model.inputs, outputs: layer.getOutputAt(0) as tf.SymbolicTensor, name: `${model.name}_to_${layerName}` });
}

/**
 * Applies the base's layers, in order, to a new symbolic input until layerName, so the
 * result can be wired into a larger model. The layers (and weights) are shared, not copied.
 */
export function replayUpTo(model: tf.LayersModel, input: tf.SymbolicTensor, layerName: string): tf.SymbolicTensor {
  requireLayer(model, layerName);
  if (model.inputs.length !== 1) throw new DataError(`The base model has ${model.inputs.length} inputs; expected exactly one image input.`);
  const replaced = new Map<tf.SymbolicTensor, tf.SymbolicTensor>([[model.inputs[0], input]]);
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const node = layer.inboundNodes[0];
    const inputs = node.inputTensors.map((tensor) => {
      const mapped = replaced.get(tensor);
      if (!mapped) throw new DataError(`Layer ${layer.name} reads a tensor produced after it; the base is not in topological order.`);
      return mapped;
    });
    const output = layer.apply(inputs.length === 1 ? inputs[0] : inputs) as tf.SymbolicTensor;
    // The base's own graph is node 0; replays add nodes, so layer.output would be ambiguous.
    replaced.set(node.outputTensors[0], output);
    if (layer.name === layerName) return output;
  }
  throw new DataError(`Layer ${layerName} was not reached while rebuilding the base.`);
}

/** The last layer whose output is still a spatial feature map (rank 4): where the original classifier begins. */
export function lastFeatureMapLayer(model: tf.LayersModel): string {
  const layer = [...model.layers].reverse().find((l) => (l.outputShape as number[]).length === 4);
  if (!layer) throw new DataError(`The base model ${model.name} has no layer with a spatial (rank 4) output; expected an image network.`);
  return layer.name;
}
