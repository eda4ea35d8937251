import * as tf from '@tensorflow/tfjs';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type KernelOutput = tf.TensorInfo | tf.TensorInfo[];

/**
 * A kernel registered in place of one of wasm's stock kernels, which it can still call for the
 * cases it does not handle. register() is idempotent; restore() puts the stock kernel back (for
 * benchmarks and tests).
 */
export function wasmKernelWrapper(kernelName: string, kernelFunc: (args: KernelArgs, stock: tf.KernelConfig) => KernelOutput) {
  let stock: tf.KernelConfig | undefined;
  // Named so that tests can tell it from the stock kernel.
  const wrapped = { kernelFunc: (args: KernelArgs) => kernelFunc(args, stock!) }.kernelFunc;
  return {
    register(): void {
      if (stock) return;
      stock = tf.getKernel(kernelName, 'wasm');
      if (!stock) throw new Error(`the wasm backend has no ${kernelName} kernel to wrap (import @tensorflow/tfjs-backend-wasm first)`);
      tf.unregisterKernel(kernelName, 'wasm');
      tf.registerKernel({ ...stock, kernelFunc: wrapped });
    },
    restore(): void {
      if (!stock) return;
      tf.unregisterKernel(kernelName, 'wasm');
      tf.registerKernel(stock);
      stock = undefined;
    },
    registered: (): boolean => stock !== undefined,
  };
}
