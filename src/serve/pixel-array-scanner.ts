import type { ParsedBody } from './instance-arrays';

const SPACE = 0x20;
const TAB = 0x09;
const NEWLINE = 0x0a;
const RETURN = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const ZERO = 0x30;
const NINE = 0x39;
const KEYS = ['instances', 'inputs'] as const;

/** Where the scan stopped: anything but the plain form. */
const NOT_PLAIN = -1;

function isSpace(byte: number): boolean {
  return byte === SPACE || byte === NEWLINE || byte === RETURN || byte === TAB;
}

/** Index of the first byte at or after `at` that is not JSON whitespace. */
function skipSpace(bytes: Uint8Array, at: number): number {
  // Reads past the end would make the whole scan slow (V8 deoptimizes out-of-bounds reads).
  while (at < bytes.length && isSpace(bytes[at])) at++;
  return at;
}

/**
 * The common :predict body, {"instances": [<[size, size, 3] array of integers 0..255>, ...]} (or
 * "inputs"), read byte by byte straight into one Float32Array per image: no JSON.parse, no millions of
 * small arrays to build and collect. Answers undefined as soon as the body is anything else (b64
 * instances, other keys, other shapes, fractions, signs, values over 255, malformed JSON, more than
 * maxInstances images): the caller then parses it as JSON, which accepts all that JSON accepts and says
 * precisely what is wrong.
 */
export function scanPixelArrays(bytes: Uint8Array, size: number, maxInstances: number): ParsedBody | undefined {
  let at = skipSpace(bytes, 0);
  if (bytes[at] !== OPEN_BRACE) return undefined;
  at = skipSpace(bytes, at + 1);
  if (bytes[at] !== QUOTE) return undefined;
  const keyEnd = bytes.indexOf(QUOTE, at + 1);
  const key = KEYS.find((candidate) => keyEnd - at - 1 === candidate.length && Buffer.from(bytes.buffer, bytes.byteOffset + at + 1, candidate.length).toString('latin1') === candidate);
  if (!key) return undefined;
  at = skipSpace(bytes, keyEnd + 1);
  if (bytes[at] !== COLON) return undefined;
  at = skipSpace(bytes, at + 1);
  if (bytes[at] !== OPEN) return undefined;
  const instances: { pixels: Float32Array }[] = [];
  do {
    if (instances.length === maxInstances) return undefined;
    const pixels = new Float32Array(size * size * 3);
    at = scanImage(bytes, at + 1, size, pixels);
    if (at === NOT_PLAIN) return undefined;
    instances.push({ pixels });
    at = skipSpace(bytes, at);
  } while (bytes[at] === COMMA);
  if (bytes[at] !== CLOSE) return undefined;
  at = skipSpace(bytes, at + 1);
  if (bytes[at] !== CLOSE_BRACE) return undefined;
  return skipSpace(bytes, at + 1) === bytes.length ? { key, instances } : undefined;
}

/**
 * One [size, size, 3] array of integers 0..255 from `at` into `pixels`; answers the index after its
 * closing bracket, or NOT_PLAIN. The hot loop of the scan (a 224x224 image is ~640 kB of text): locals
 * only, one comparison per byte where possible.
 */
function scanImage(bytes: Uint8Array, at: number, size: number, pixels: Float32Array): number {
  let i = 0;
  const last = bytes.length - 1;
  at = skipSpace(bytes, at);
  if (bytes[at++] !== OPEN) return NOT_PLAIN;
  for (let y = 0; y < size; y++) {
    if (y > 0) {
      at = skipSpace(bytes, at);
      if (bytes[at++] !== COMMA) return NOT_PLAIN;
    }
    at = skipSpace(bytes, at);
    if (bytes[at++] !== OPEN) return NOT_PLAIN;
    for (let x = 0; x < size; x++) {
      if (x > 0) {
        at = skipSpace(bytes, at);
        if (bytes[at++] !== COMMA) return NOT_PLAIN;
      }
      at = skipSpace(bytes, at);
      if (bytes[at++] !== OPEN) return NOT_PLAIN;
      for (let c = 0; c < 3; c++) {
        at = skipSpace(bytes, at);
        if (c > 0) {
          if (bytes[at++] !== COMMA) return NOT_PLAIN;
          at = skipSpace(bytes, at);
        }
        // An integer without a leading zero (JSON) and at most 255; anything else is not plain.
        const start = at;
        let value = 0;
        let byte = bytes[at];
        while (byte >= ZERO && byte <= NINE && value <= 255 && at < last) {
          value = value * 10 + (byte - ZERO);
          byte = bytes[++at];
        }
        if (at === start || value > 255 || (at - start > 1 && bytes[start] === ZERO)) return NOT_PLAIN;
        pixels[i++] = value;
      }
      at = skipSpace(bytes, at);
      if (bytes[at++] !== CLOSE) return NOT_PLAIN;
    }
    at = skipSpace(bytes, at);
    if (bytes[at++] !== CLOSE) return NOT_PLAIN;
  }
  at = skipSpace(bytes, at);
  return bytes[at++] === CLOSE ? at : NOT_PLAIN;
}
