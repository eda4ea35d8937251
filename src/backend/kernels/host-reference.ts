import * as tf from '@tensorflow/tfjs';

/**
 * Runs a reference kernel of the pure-JS cpu backend on host copies of the inputs and returns the result
 * as a tensor of the current backend. Slow but exact: the last resort for attribute combinations the fast
 * compositions do not cover (dilations, channel multipliers > 1) on a backend that has no kernel of its own.
 */
export function runOnCpuReference(
  config: tf.KernelConfig,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap | undefined,
  source: tf.KernelBackend,
): tf.Tensor {
  const cpu = tf.findBackend('cpu');
  if (cpu == null) throw new Error('the cpu backend is not available to run the reference kernel');
  const written: tf.DataId[] = [];
  try {
    const cpuInputs: tf.NamedTensorInfoMap = {};
    for (const [name, info] of Object.entries(inputs)) {
      if (info == null) continue;
      const values = (source.readSync(info.dataId) as Float32Array).slice();
      const dataId = cpu.write(values, info.shape, info.dtype);
      written.push(dataId);
      cpuInputs[name] = { dataId, shape: info.shape, dtype: info.dtype };
    }
    const out = config.kernelFunc({ inputs: cpuInputs, attrs, backend: cpu });
    if (Array.isArray(out)) throw new Error(`${config.kernelName}: expected one output`);
    written.push(out.dataId);
    const values = (cpu.readSync(out.dataId) as Float32Array).slice();
    return tf.tensor(values, out.shape, out.dtype);
  } finally {
    for (const dataId of written) cpu.disposeData(dataId, true);
  }
}
