import * as tf from '@tensorflow/tfjs';
import { applyGridPooling, type Pooling } from '../models/grid-pooling';
import { replaySegment } from '../models/network-surgery';

/**
 * One model from raw RGB [0, 255] to probabilities: the frozen part, the fine-tuned top of the
 * base when there is one, global average or 2x2-grid pooling (unless the frozen part pools already), then the head's layers. Layers are shared
 * with their owners, not copied, so the export holds exactly the trained weights.
 */
export function composeClassifier(
  frozenPart: tf.LayersModel,
  head: tf.Sequential,
  top?: { base: tf.LayersModel; from: string; until: string; pooling?: Pooling },
): tf.LayersModel {
  let x = frozenPart.outputs[0];
  if (top) x = replaySegment(top.base, x, top.until, top.from);
  if (x.shape.length === 4 && top?.pooling === 'grid') x = applyGridPooling(x, 'head_pool');
  else if (x.shape.length === 4) x = tf.layers.globalAveragePooling2d({ name: 'head_pool' }).apply(x) as tf.SymbolicTensor;
  for (const layer of head.layers) x = layer.apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: frozenPart.inputs, outputs: x, name: 'finetune_classifier' });
}
