import * as tf from '@tensorflow/tfjs';
import { wasmKernelWrapper } from './wasm-kernel-wrapper';

/**
 * wasm's GatherV2 moves one element at a time (about 57 ns each: 7 ms for 32 rows of 3,840 features,
 * 25x a host copy of the same rows), and every training batch is such a gather. Gathering whole rows
 * (axis 0, no batch dimensions) is a copy of contiguous slices: this kernel does it on the wasm heap
 * with TypedArray.set. Other forms go to the stock kernel.
 */
interface WasmHeap {
  readSync(dataId: object): ArrayLike<number>;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function kernelFunc(args: Parameters<tf.KernelFunc>[0], stock: tf.KernelConfig): tf.TensorInfo | tf.TensorInfo[] {
  const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
  const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
  const rank = x.shape.length;
  if (rank === 0 || (axis < 0 ? axis + rank : axis) !== 0 || batchDims !== 0 || x.dtype === 'string') return stock.kernelFunc(args);
  const heap = args.backend as unknown as WasmHeap;
  const rows = heap.readSync(indices.dataId);
  const rowCount = x.shape[0];
  for (let r = 0; r < rows.length; r++) {
    if (!(rows[r] >= 0 && rows[r] < rowCount)) throw new Error(`GatherV2: the index value ${rows[r]} is not in [0, ${rowCount - 1}]`);
  }
  const rowSize = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const out = heap.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
  // Views taken after the allocation: growing the heap would detach earlier ones.
  const from = heap.typedArrayFromHeap(x);
  const to = heap.typedArrayFromHeap(out);
  for (let r = 0; r < rows.length; r++) to.set(from.subarray(rows[r] * rowSize, (rows[r] + 1) * rowSize), r * rowSize);
  return out;
}

const wrapper = wasmKernelWrapper('GatherV2', kernelFunc);

/** Replaces wasm's GatherV2 (idempotent). */
export const registerRowGather = wrapper.register;
/** Puts the stock kernel back (for benchmarks and tests). */
export const restoreStockGather = wrapper.restore;
