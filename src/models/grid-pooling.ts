import * as tf from '@tensorflow/tfjs';
import { DataError } from '../errors';

/**
 * How the head sees a feature map: averaged over the whole image, or over each quarter of it
 * (2x2 grid, four vectors side by side) so that where a part appears still counts.
 */
export type Pooling = 'average' | 'grid';

/**
 * Average pooling into a 2x2 grid with standard layers (any TensorFlow.js program loads them):
 * windows of ceil(side/2) every floor(side/2) cells, so odd sides overlap by one row in the middle.
 * The result is flattened row-major, [top-left, top-right, bottom-left, bottom-right] x channels.
 */
export function applyGridPooling(featureMap: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  const [, height, width] = featureMap.shape as number[];
  if (!(height >= 2 && width >= 2)) {
    throw new DataError(
      `Received a ${height}x${width} feature map at ${name}: grid pooling needs at least 2x2. Use a larger --image-size, or --pooling average.`,
    );
  }
  const stride: [number, number] = [Math.floor(height / 2), Math.floor(width / 2)];
  const pooled = tf.layers
    .averagePooling2d({ poolSize: [height - stride[0], width - stride[1]], strides: stride, padding: 'valid', name: `${name}_grid_pool` })
    .apply(featureMap) as tf.SymbolicTensor;
  return tf.layers.flatten({ name: `${name}_grid_flatten` }).apply(pooled) as tf.SymbolicTensor;
}
