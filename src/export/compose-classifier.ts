import * as tf from '@tensorflow/tfjs';

/**
 * One model from raw RGB [0, 255] to probabilities: the frozen part, global average pooling,
 * then the head's layers. Layers are shared with the inputs, not copied.
 */
export function composeClassifier(frozenPart: tf.LayersModel, head: tf.Sequential): tf.LayersModel {
  let x = tf.layers.globalAveragePooling2d({ name: 'head_pool' }).apply(frozenPart.outputs[0]) as tf.SymbolicTensor;
  for (const layer of head.layers) x = layer.apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: frozenPart.inputs, outputs: x, name: 'finetune_classifier' });
}
