import type * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { readModelFiles } from '../models/model-files';

export type WeightQuantization = 'none' | 'float16' | 'uint8';

/** Bytes of weights before and after quantizing an export folder. */
export interface QuantizedSize {
  float32Bytes: number;
  quantizedBytes: number;
}

const bytesPerValueOf: Record<string, number | undefined> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
const quantizedSizeOf: Record<string, number | undefined> = { uint8: 1, uint16: 2, float16: 2 };
const float32 = new Float32Array(1);
const float32Bits = new Uint32Array(float32.buffer);

/** IEEE half-precision bits of a number, rounded to nearest even (what tfjs' float16 decoder reads back). */
export function float16Bits(value: number): number {
  float32[0] = value;
  const bits = float32Bits[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Subnormal half: the value is k * 2^-24 with k = the 24-bit mantissa shifted right.
    if (halfExponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half += 1;
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1;
  return sign | half;
}

/**
 * Affine uint8 parameters for values in [min, max]: value = q * scale + min. The range is widened
 * to hold 0 and nudged so that 0 is exactly representable (zero padding and zero biases stay zero),
 * as tensorflowjs_converter does.
 */
function affineRange(values: Float32Array): { min: number; scale: number } {
  let min = 0;
  let max = 0;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (max === min) return { min: 0, scale: 1 };
  const scale = (max - min) / 255;
  const zeroPoint = Math.round(-min / scale);
  return { min: -zeroPoint * scale, scale };
}

/**
 * Quantized copy of a weights manifest and its data. float32 weights become float16, or uint8 for
 * kernels of two or more dimensions, with the manifest's `quantization` field, which tf.loadLayersModel and tf.loadGraphModel
 * dequantize on load; other dtypes, and weights quantized already, are copied as they are.
 */
export function quantizeWeights(
  specs: tf.io.WeightsManifestEntry[],
  data: ArrayBuffer,
  dtype: 'float16' | 'uint8',
): { specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer } {
  const parts: Uint8Array[] = [];
  const quantized: tf.io.WeightsManifestEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    if (spec.quantization) {
      // Already quantized (as a base's weights may be, in a GraphModel export): kept as they are.
      const size = quantizedSizeOf[spec.quantization.dtype];
      if (size === undefined) throw new Error(`Weight ${spec.name} has unknown quantization dtype ${spec.quantization.dtype}; expected uint8, uint16 or float16.`);
      parts.push(new Uint8Array(data, offset, count * size).slice());
      quantized.push(spec);
      offset += count * size;
      continue;
    }
    const bytesPerValue = bytesPerValueOf[spec.dtype];
    if (bytesPerValue === undefined) throw new Error(`Weight ${spec.name} has dtype ${spec.dtype}, which has no fixed size; expected float32, int32, bool or complex64.`);
    const bytes = count * bytesPerValue;
    const raw = new Uint8Array(data, offset, bytes);
    offset += bytes;
    // Under uint8, vectors (biases, batch-norm scales, offsets and moving statistics) stay float32:
    // one range per tensor cannot hold both tiny and large variances, and they are a few kilobytes.
    if (spec.dtype !== 'float32' || (dtype === 'uint8' && spec.shape.length < 2)) {
      parts.push(raw.slice());
      quantized.push(spec);
      continue;
    }
    const values = new Float32Array(raw.slice().buffer);
    if (dtype === 'float16') {
      const halves = new Uint16Array(count);
      for (let i = 0; i < count; i++) halves[i] = float16Bits(values[i]);
      parts.push(new Uint8Array(halves.buffer));
      quantized.push({ ...spec, quantization: { dtype: 'float16' } });
    } else {
      const { min, scale } = affineRange(values);
      const levels = new Uint8Array(count);
      for (let i = 0; i < count; i++) levels[i] = Math.min(255, Math.max(0, Math.round((values[i] - min) / scale)));
      parts.push(levels);
      quantized.push({ ...spec, quantization: { dtype: 'uint8', min, scale } });
    }
  }
  const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return { specs: quantized, data: out.buffer };
}

/** Rewrites the model.json and weights of an export folder with quantized weights, in one shard. */
export function quantizeModelFiles(dir: string, dtype: 'float16' | 'uint8'): QuantizedSize {
  const files = readModelFiles(dir);
  const quantized = quantizeWeights(files.weightSpecs, files.weightData, dtype);
  for (const group of files.modelJson.weightsManifest) for (const shard of group.paths) fs.rmSync(path.join(dir, shard));
  const shard = 'group1-shard1of1.bin';
  fs.writeFileSync(path.join(dir, shard), Buffer.from(quantized.data));
  const modelJson: tf.io.ModelJSON = { ...files.modelJson, weightsManifest: [{ paths: [shard], weights: quantized.specs }] };
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson));
  return { float32Bytes: files.weightData.byteLength, quantizedBytes: quantized.data.byteLength };
}
