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

/**
 * The same pooling on a tensor [N, H, W, C] -> [N, C] (average) or [N, 4C] (grid), written with
 * slices and means so that it has gradients on every backend (a fine-tuned segment trains through it).
 * The grid matches applyGridPooling exactly: windows of H - floor(H/2) rows every floor(H/2).
 */
export function poolFeatureMap(featureMap: tf.Tensor, pooling: Pooling): tf.Tensor2D {
  if (pooling === 'average') return tf.mean(featureMap, [1, 2]) as tf.Tensor2D;
  const [, height, width] = featureMap.shape;
  const stride = [Math.floor(height / 2), Math.floor(width / 2)];
  const size = [height - stride[0], width - stride[1]];
  const quarters = [0, 1].flatMap((row) =>
    [0, 1].map((column) => tf.mean(tf.slice(featureMap, [0, row * stride[0], column * stride[1], 0], [-1, size[0], size[1], -1]), [1, 2])),
  );
  return tf.concat(quarters, 1) as tf.Tensor2D;
}
