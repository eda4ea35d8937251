import { pixelsFromArray } from './instance-arrays';
import { RequestError } from './request-error';

/** One JSON value of a body made of arrays and numbers only: where it ends, and what describe() needs. */
interface Element {
  end: number;
  /** Array: its number of elements; number: undefined. */
  length?: number;
  /** Number: where it starts. */
  start?: number;
}

class NotNumeric extends Error {}
const notNumeric = new NotNumeric();

/**
 * Why a :predict body of nested number arrays does not fit the model, read without building it: the
 * same RequestError parsePredictBody would throw after JSON.parse (shape, then range, in the same order),
 * or undefined when the body holds anything else (strings, objects, invalid JSON, b64 images) or has no
 * such error. Spares the garbage of a hostile body (a 14 MB [1100, 1100, 3] array is 1.2 million arrays).
 */
export function pixelArrayShapeError(bytes: Uint8Array, size: number, maxInstances: number): RequestError | undefined {
  // The key and the end are read as text; the arrays between, byte by byte.
  const start = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 64)).toString('latin1');
  const head = /^[ \t\n\r]*\{[ \t\n\r]*"(instances|inputs)"[ \t\n\r]*:/.exec(start);
  if (!head) return undefined;
  try {
    const reader = new Reader(bytes);
    const instances = reader.element(head[0].length);
    const rest = Buffer.from(bytes.buffer, bytes.byteOffset + instances.end, bytes.byteLength - instances.end).toString('latin1');
    if (!/^[ \t\n\r]*\}[ \t\n\r]*$/.test(rest)) return undefined;
    if (!instances.length || instances.length > maxInstances) return undefined;
    let at = reader.open(head[0].length);
    for (let i = 0; i < instances.length; i++) {
      // A number where an image belongs: parseInstance's own message, through JSON.parse.
      if (reader.element(at).length === undefined) return undefined;
      const error = reader.instanceError(at, `${head[1]}[${i}]`, size);
      if (error) return error;
      at = reader.next(reader.element(at).end);
    }
    return undefined;
  } catch (error) {
    if (error === notNumeric || error instanceof RangeError) return undefined;
    throw error;
  }
}

const SPACE = 0x20;
const TAB = 0x09;
const NEWLINE = 0x0a;
const RETURN = 0x0d;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const COMMA = 0x2c;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

class Reader {
  constructor(private readonly bytes: Uint8Array) {}

  /** The first error of one instance, in pixelsFromArray's order; undefined if it fits. */
  instanceError(at: number, where: string, size: number): RequestError | undefined {
    const instance = this.element(at);
    if (instance.length !== size) return this.check(() => pixelsFromArray(new Array(instance.length), where, size));
    let rowAt = this.open(at);
    for (let y = 0; y < size; y++) {
      const row = this.element(rowAt);
      if (row.length !== size) return this.check(() => pixelsFromArray(rowsUpTo(y, size, standIn(this, row)), where, size));
      let pixelAt = this.open(rowAt);
      for (let x = 0; x < size; x++) {
        const pixel = this.element(pixelAt);
        const channels = pixel.length === 3 ? this.channels(pixelAt) : undefined;
        if (!channels || channels.some((value) => typeof value !== 'number' || !(value >= 0 && value <= 255))) {
          return this.check(() => pixelsFromArray(rowsUpTo(y, size, pixelsUpTo(x, size, channels ?? standIn(this, pixel))), where, size));
        }
        pixelAt = this.next(pixel.end);
      }
      rowAt = this.next(row.end);
    }
    return undefined;
  }

  /** Skips one value (an array of values, or a number), checking its grammar. */
  element(at: number): Element {
    at = this.space(at);
    if (this.bytes[at] !== OPEN) return { start: at, end: this.numberEnd(at) };
    let length = 0;
    let next = this.space(at + 1);
    if (this.bytes[next] === CLOSE) return { end: next + 1, length };
    for (;;) {
      next = this.space(this.skip(next));
      length += 1;
      if (this.bytes[next] === CLOSE) return { end: next + 1, length };
      if (this.bytes[next] !== COMMA) throw notNumeric;
      next += 1;
    }
  }

  /** Where the value at `at` ends; element() without its answer object, for the bulk of a body. */
  private skip(at: number): number {
    if (this.bytes[at] !== OPEN) return this.numberEnd(at);
    let next = this.space(at + 1);
    if (this.bytes[next] === CLOSE) return next + 1;
    for (;;) {
      next = this.space(this.skip(next));
      if (this.bytes[next] === CLOSE) return next + 1;
      if (this.bytes[next] !== COMMA) throw notNumeric;
      next += 1;
    }
  }

  /** Index of the first element inside the array at `at`. */
  open(at: number): number {
    return this.space(at) + 1;
  }

  /** The value of the number element. */
  valueOf(element: Element): number {
    return Number(Buffer.from(this.bytes.buffer, this.bytes.byteOffset + element.start!, element.end - element.start!).toString('latin1'));
  }

  /** Index after the comma that follows an element ending at `end` (or of the closing bracket). */
  next(end: number): number {
    const at = this.space(end);
    return this.bytes[at] === COMMA ? at + 1 : at;
  }

  /** Stand-ins for the 3 elements of the pixel at `at`. */
  private channels(at: number): unknown[] {
    const channels: unknown[] = [];
    let next = this.open(at);
    for (let c = 0; c < 3; c++) {
      const channel = this.element(next);
      channels.push(channel.length === undefined ? this.valueOf(channel) : new Array(channel.length));
      next = this.next(channel.end);
    }
    return channels;
  }

  /** End of the JSON number at `at`: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
  private numberEnd(at: number): number {
    const { bytes } = this;
    if (bytes[at] === MINUS) at++;
    at = bytes[at] === ZERO ? at + 1 : this.digits(at);
    if (bytes[at] === DOT) at = this.digits(at + 1);
    if (bytes[at] === 0x65 || bytes[at] === 0x45) at = this.digits(bytes[at + 1] === PLUS || bytes[at + 1] === MINUS ? at + 2 : at + 1);
    return at;
  }

  /** End of one or more digits from `at`. */
  private digits(at: number): number {
    const from = at;
    while (at < this.bytes.length && this.bytes[at] >= ZERO && this.bytes[at] <= NINE) at++;
    if (at === from) throw notNumeric;
    return at;
  }

  private space(at: number): number {
    const { bytes } = this;
    while (at < bytes.length && (bytes[at] === SPACE || bytes[at] === NEWLINE || bytes[at] === RETURN || bytes[at] === TAB)) at++;
    return at;
  }

  /** The RequestError pixelsFromArray throws on a small stand-in with the same first defect. */
  private check(run: () => unknown): RequestError | undefined {
    try {
      run();
      return undefined;
    } catch (error) {
      if (error instanceof RequestError) return error;
      throw error;
    }
  }
}

/** A value that describe() and pixelsFromArray's checks see as they would see the element. */
function standIn(reader: Reader, element: Element): unknown {
  return element.length === undefined ? reader.valueOf(element) : new Array(element.length);
}

/** Valid rows before row y (zeros), then `row`: pixelsFromArray stops at row y. */
function rowsUpTo(y: number, size: number, row: unknown): unknown[] {
  const good = Array.from({ length: size }, () => [0, 0, 0]);
  return [...Array.from({ length: y }, () => good), row, ...Array.from({ length: size - y - 1 }, () => good)];
}

/** Valid pixels before pixel x, then `pixel`. */
function pixelsUpTo(x: number, size: number, pixel: unknown): unknown[] {
  return Array.from({ length: size }, (_, i) => (i === x ? pixel : [0, 0, 0]));
}
