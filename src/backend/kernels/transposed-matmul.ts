import * as tf from '@tensorflow/tfjs';
import { asTensor, detach } from './kernel-result';
import { wasmKernelWrapper } from './wasm-kernel-wrapper';

/**
 * wasm's BatchMatMul with transposeA is ~14x slower than an explicit transpose followed by a plain
 * product (ENVIRONMENT.md), and tfjs' gradients of matMul and of dense layers ask for exactly that
 * form (the kernel's gradient is x^T dy): registered for wasm, this kernel transposes `a` (and a
 * large enough `b`) explicitly and hands the plain product to the stock kernel. Measured on a dense
 * head (3840 features, batch 32): 15 -> 10 ms a training step; with a hidden layer of 64, 35 -> 20 ms
 * for `a` alone and 20 -> 10 ms with `b` too.
 */

/**
 * transposeB is slow too (x^T's gradient dy W^T; Gram matrices), but transposing b costs more than
 * it saves for a product of one or a few rows: measured 1 row x 3840 x 10, 0.10 ms stock and 0.46 ms
 * swapped; 32 x 64 x 3840, 14.2 ms stock and 4.1 ms swapped; 400 x 3840 x 400, 989 and 118 ms.
 */
const MIN_ROWS_TO_SWAP_B = 8;

function kernelFunc(args: Parameters<tf.KernelFunc>[0], stock: tf.KernelConfig): tf.TensorInfo | tf.TensorInfo[] {
  const attrs = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  const a = args.inputs.a!;
  const rows = attrs.transposeA ? a.shape[a.shape.length - 1] : a.shape[a.shape.length - 2];
  const swapB = attrs.transposeB && rows >= MIN_ROWS_TO_SWAP_B;
  if (!attrs.transposeA && !swapB) return stock.kernelFunc(args);
  const backend = args.backend as tf.KernelBackend;
  const result = tf.tidy(() => {
    const left = asTensor(a);
    const right = asTensor(args.inputs.b!);
    return tf.matMul(attrs.transposeA ? swapLastAxes(left) : left, swapB ? swapLastAxes(right) : right, false, attrs.transposeB && !swapB);
  });
  return detach(result, backend);
}

function swapLastAxes(x: tf.Tensor): tf.Tensor {
  const axes = x.shape.map((_, i) => i);
  [axes[x.rank - 2], axes[x.rank - 1]] = [axes[x.rank - 1], axes[x.rank - 2]];
  return tf.transpose(x, axes);
}

const wrapper = wasmKernelWrapper('BatchMatMul', kernelFunc);

/** Replaces wasm's BatchMatMul (idempotent); the stock kernel still computes every plain product. */
export const registerTransposedMatMul = wrapper.register;
/** Puts the stock kernel back (for benchmarks and tests). */
export const restoreStockMatMul = wrapper.restore;
/** Whether the wrapper is registered. */
export const transposedMatMulRegistered = wrapper.registered;
