import * as tf from '@tensorflow/tfjs';

/**
 * Turns a Tensor made by tf ops into what a stock kernel returns: one more backend reference to its data,
 * then the Tensor disposed (which drops the engine's count and that reference, not the data) and the
 * engine's bookkeeping entry for the data id removed, so that the engine (or a kernel calling this one)
 * takes the data over as if the backend had just allocated it.
 */
export function detach(result: tf.Tensor, backend: tf.KernelBackend): tf.TensorInfo {
  const info: tf.TensorInfo = { dataId: result.dataId, shape: result.shape, dtype: result.dtype };
  backend.incRef(result.dataId);
  result.dispose();
  tf.engine().removeDataId(result.dataId, backend);
  return info;
}

/** A kernel may be handed plain TensorInfos (by another kernel); give them a reference-counted Tensor. */
export function asTensor(info: tf.TensorInfo): tf.Tensor {
  if (info instanceof tf.Tensor) return info;
  return tf.engine().runKernel('Identity', { x: info as tf.Tensor }) as tf.Tensor;
}
