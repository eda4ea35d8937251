import * as tf from '@tensorflow/tfjs';

/**
 * The values of the tensor `compute` returns, computed inside tf.tidy and read after the scope
 * closes. Returning the values from the tidy itself would make tfjs walk the typed array element by
 * element looking for tensors: 1.5 s for 1.15M values, against 3.6 ms this way (wasm and cpu alike).
 */
export function readValues(compute: () => tf.Tensor): tf.TypedArray {
  const tensor = tf.tidy(compute);
  try {
    return tensor.dataSync();
  } finally {
    tensor.dispose();
  }
}
