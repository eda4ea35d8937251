import * as tf from '@tensorflow/tfjs';
import { asTensor, detach } from './kernel-result';

/**
 * wasm's BatchMatMul with transposeA is ~14x slower than an explicit transpose followed by a plain
 * product (ENVIRONMENT.md), and tfjs' gradients of matMul and of dense layers ask for exactly that
 * form (the kernel's gradient is x^T dy): registered for wasm, this kernel transposes `a` explicitly
 * and hands the plain product to the stock kernel. Measured on a dense head (3840 features, batch 32):
 * 15 -> 10 ms a training step, 35 -> 20 ms with a hidden layer of 64.
 */
let stock: tf.KernelConfig | undefined;

function kernelFunc(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | tf.TensorInfo[] {
  const attrs = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  if (!attrs.transposeA) return stock!.kernelFunc(args);
  const backend = args.backend as tf.KernelBackend;
  const result = tf.tidy(() => {
    const a = asTensor(args.inputs.a!);
    const b = asTensor(args.inputs.b!);
    const axes = a.shape.map((_, i) => i);
    [axes[a.rank - 2], axes[a.rank - 1]] = [axes[a.rank - 1], axes[a.rank - 2]];
    return tf.matMul(tf.transpose(a, axes), b, false, attrs.transposeB);
  });
  return detach(result, backend);
}

/** Replaces wasm's BatchMatMul (idempotent); the stock kernel still computes every plain product. */
export function registerTransposedMatMul(): void {
  if (stock) return;
  stock = tf.getKernel('BatchMatMul', 'wasm');
  if (!stock) throw new Error('the wasm backend has no BatchMatMul kernel to wrap (import @tensorflow/tfjs-backend-wasm first)');
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ ...stock, kernelFunc });
}

/** Puts the stock kernel back (for benchmarks and tests). */
export function restoreStockMatMul(): void {
  if (!stock) return;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel(stock);
  stock = undefined;
}

/** Whether the wrapper is registered. */
export function transposedMatMulRegistered(): boolean {
  return stock !== undefined;
}
