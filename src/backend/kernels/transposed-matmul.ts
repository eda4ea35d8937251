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

/**
 * A batch of products (rank 3, the same batch on both sides) is 3-6x slower on wasm than the same
 * products one by one, from about 64k multiply-adds each: measured for 5 products of 32 x 400 x 64,
 * 6.6 ms batched and 1.5 ms one by one; 5 x 32 x 64 x 64, 1.3 and 0.43 ms; 5 x 32 x 64 x 10 (20k),
 * 0.13 and 0.19 ms. Stacked heads (one head per fold) train on such batches.
 */
const MIN_PRODUCT_TO_SPLIT_BATCH = 65536;

function kernelFunc(args: Parameters<tf.KernelFunc>[0], stock: tf.KernelConfig): tf.TensorInfo | tf.TensorInfo[] {
  const attrs = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  const a = args.inputs.a!;
  const b = args.inputs.b!;
  const rows = attrs.transposeA ? a.shape[a.shape.length - 1] : a.shape[a.shape.length - 2];
  const swapB = attrs.transposeB && rows >= MIN_ROWS_TO_SWAP_B;
  const split = splitsBatch(a.shape, b.shape, rows);
  if (!attrs.transposeA && !swapB && !split) return stock.kernelFunc(args);
  const backend = args.backend as tf.KernelBackend;
  const result = tf.tidy(() => {
    const left = attrs.transposeA ? swapLastAxes(asTensor(a)) : asTensor(a);
    const right = swapB ? swapLastAxes(asTensor(b)) : asTensor(b);
    const transposeB = attrs.transposeB && !swapB;
    if (!split) return tf.matMul(left, right, false, transposeB);
    // Row gathers, not slices or unstack: wasm copies a slice element by element (6-10x slower here).
    const products = Array.from({ length: left.shape[0] }, (_, i) => tf.matMul(tf.gather(left, i), tf.gather(right, i), false, transposeB));
    return tf.stack(products);
  });
  return detach(result, backend);
}

/** Whether a batch of products is done one by one: rank 3, the same batch size on both sides, products large enough. */
function splitsBatch(aShape: number[], bShape: number[], rows: number): boolean {
  if (aShape.length !== 3 || bShape.length !== 3 || aShape[0] !== bShape[0] || aShape[0] < 2) return false;
  const depth = aShape[1] * aShape[2] / rows;
  const columns = (bShape[1] * bShape[2]) / depth;
  return rows * depth * columns >= MIN_PRODUCT_TO_SPLIT_BATCH;
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
