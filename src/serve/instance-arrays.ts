import { pixelArrayShapeError } from './pixel-array-shape';
import { scanPixelArrays } from './pixel-array-scanner';
import { RequestError } from './request-error';

export interface InstanceLimits {
  maxInstances: number;
}

/** One instance of a predict body after parsing: pixels ready for the model, or the bytes of an encoded image. */
export type ParsedInstance = { pixels: Float32Array } | { encoded: Uint8Array };

export interface ParsedBody {
  key: 'instances' | 'inputs';
  instances: ParsedInstance[];
}

const base64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}...` : value)}`;
  if (typeof value === 'object') return `an object with keys ${Object.keys(value as object).join(', ') || '(none)'}`;
  return `${typeof value} ${String(value)}`;
}

/**
 * The images of a TF Serving predict body: {"instances": [...]} (row format) or {"inputs": [...]}
 * (columnar, one input). Answers which key was used, so the reply can use its counterpart.
 */
export function instancesOf(body: unknown, limits: InstanceLimits): { key: 'instances' | 'inputs'; instances: unknown[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RequestError(400, `Expected a JSON object {"instances": [...]}; received ${describe(body)}.`);
  }
  const record = body as Record<string, unknown>;
  const key = 'instances' in record ? 'instances' : 'inputs' in record ? 'inputs' : undefined;
  if (!key) {
    throw new RequestError(400, `Expected a JSON object with "instances": a list of images, each an [height, width, 3] pixel array (0..255) or {"b64": "<base64 image>"}; received ${describe(body)}.`);
  }
  const instances = record[key];
  if (!Array.isArray(instances) || instances.length === 0) {
    throw new RequestError(400, `"${key}" must be a non-empty list of images; received ${describe(instances)}.`);
  }
  if (instances.length > limits.maxInstances) {
    throw new RequestError(413, `"${key}" holds ${instances.length} images; this server takes at most ${limits.maxInstances} per request (serve.maxInstances). Split the request.`);
  }
  return { key, instances };
}

/** Raw RGB pixels from an [H, W, 3] array of numbers in 0..255, checked against the model's input. */
export function pixelsFromArray(instance: unknown[], where: string, size: number): Float32Array {
  const expected = `the model takes [${size}, ${size}, 3] pixel arrays (RGB, 0..255) or {"b64": "<base64 image>"}`;
  if (instance.length !== size) throw new RequestError(400, `${where} has ${instance.length} rows; ${expected}.`);
  const pixels = new Float32Array(size * size * 3);
  let at = 0;
  for (let y = 0; y < size; y++) {
    const row = instance[y];
    if (!Array.isArray(row) || row.length !== size) throw new RequestError(400, `${where}[${y}] is ${describe(row)}; ${expected}.`);
    for (let x = 0; x < size; x++) {
      const pixel = row[x];
      if (!Array.isArray(pixel) || pixel.length !== 3) throw new RequestError(400, `${where}[${y}][${x}] is ${describe(pixel)}; expected 3 channel values (RGB).`);
      for (let c = 0; c < 3; c++) {
        const value = pixel[c];
        if (typeof value !== 'number' || !(value >= 0 && value <= 255)) {
          throw new RequestError(400, `${where}[${y}][${x}][${c}] is ${describe(value)}; expected a number in 0..255.`);
        }
        pixels[at++] = value;
      }
    }
  }
  return pixels;
}

/** One instance: a pixel array, or the bytes of {"b64": ...}, not decoded yet. */
export function parseInstance(instance: unknown, where: string, size: number): ParsedInstance {
  if (Array.isArray(instance)) return { pixels: pixelsFromArray(instance, where, size) };
  if (typeof instance === 'object' && instance !== null && 'b64' in instance) {
    const text = (instance as { b64: unknown }).b64;
    if (typeof text !== 'string' || text.length === 0 || !base64.test(text)) {
      throw new RequestError(400, `${where}.b64 is ${describe(text)}; expected a base64-encoded image.`);
    }
    const bytes = Buffer.from(text, 'base64');
    // Small Buffers share a pooled ArrayBuffer; an own one can be handed to another thread.
    return { encoded: bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes) };
  }
  throw new RequestError(400, `${where} is ${describe(instance)}; expected an [${size}, ${size}, 3] pixel array (RGB, 0..255) or {"b64": "<base64 image>"}.`);
}

/**
 * A whole :predict body, from its bytes: JSON, its instances, each checked and turned into a typed array.
 * Pixel arrays in the plain form are scanned straight into typed arrays, and wrongly shaped number arrays
 * refused without being built; anything else is parsed as JSON.
 */
export function parsePredictBody(bytes: Uint8Array, size: number, limits: InstanceLimits): ParsedBody {
  const scanned = scanPixelArrays(bytes, size, limits.maxInstances);
  if (scanned) return scanned;
  const shapeError = pixelArrayShapeError(bytes, size, limits.maxInstances);
  if (shapeError) throw shapeError;
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === '') throw new RequestError(400, 'The JSON body is empty. Expected {"instances": [...]}.');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new RequestError(400, `The body is not valid JSON (${(error as Error).message}). Expected {"instances": [...]}.`);
  }
  const { key, instances } = instancesOf(body, limits);
  return { key, instances: instances.map((instance, i) => parseInstance(instance, `${key}[${i}]`, size)) };
}
