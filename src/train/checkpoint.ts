import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DataError, RuntimeFailure } from '../errors';

/** Named lists of tensors, e.g. { weights: [...], best: [...], optimizer_0: [...] }. */
export type TensorGroups = Record<string, tf.Tensor[]>;

interface TensorEntry {
  shape: number[];
  dtype: 'float32' | 'int32';
  offset: number;
  length: number;
}

interface Header {
  format: typeof format;
  state: unknown;
  tensors: Record<string, TensorEntry[]>;
}

const format = 'finetune-checkpoint-2';
/** Starts every checkpoint file; then the SHA-256 of everything after it. */
const magic = Buffer.from('FTCK');
const prefixBytes = magic.length + 32;

/**
 * Writes a checkpoint as one file: magic, the SHA-256 of the rest (as the feature cache does), a
 * little-endian uint32 header length, the JSON header (state and tensor layout), then the raw tensor
 * data. Written to a temporary file, flushed, then renamed over the old one, so a crash leaves either
 * the previous checkpoint or the new one, never half of one.
 */
export function writeCheckpoint(file: string, state: unknown, groups: TensorGroups): void {
  const layout: Record<string, TensorEntry[]> = {};
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, tensors] of Object.entries(groups)) {
    layout[name] = tensors.map((tensor) => {
      if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32') throw new Error(`cannot checkpoint a ${tensor.dtype} tensor (${name})`);
      const data = tensor.dataSync() as Float32Array | Int32Array;
      const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      chunks.push(Buffer.from(bytes));
      const entry = { shape: tensor.shape, dtype: tensor.dtype, offset, length: data.length };
      offset += bytes.length;
      return entry;
    });
  }
  const header = Buffer.from(JSON.stringify({ format, state, tensors: layout } satisfies Header));
  const size = Buffer.alloc(4);
  size.writeUInt32LE(header.length);
  const hash = createHash('sha256');
  for (const chunk of [size, header, ...chunks]) hash.update(chunk);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(temporary, 'w');
  try {
    for (const chunk of [magic, hash.digest(), size, header, ...chunks]) fs.writeSync(fd, chunk);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temporary, file);
}

/**
 * The part of a checkpoint file after its checksum, once the checksum matches. A checkpoint that was
 * changed or damaged after it was written is refused (a DataError), never resumed.
 */
function verifiedContents(file: string, bytes: Buffer): Buffer {
  const fix = `Start a new run with finetune train --data DIR, or delete ${file} to train this phase again with --resume.`;
  if (bytes.length < prefixBytes || !bytes.subarray(0, magic.length).equals(magic)) {
    throw new DataError(
      `The checkpoint ${file} has no checksum (received ${bytes.length} bytes starting ${JSON.stringify(bytes.subarray(0, magic.length).toString('latin1'))}; ` +
        `expected a ${format} file starting "${magic}"): it cannot be verified, so it is not resumed. ${fix}`,
    );
  }
  const contents = bytes.subarray(prefixBytes);
  const actual = createHash('sha256').update(contents).digest('hex');
  const recorded = bytes.subarray(magic.length, prefixBytes).toString('hex');
  if (actual !== recorded) {
    throw new DataError(
      `The checkpoint ${file} fails its checksum (its contents hash to SHA-256 ${actual.slice(0, 16)}..., it recorded ${recorded.slice(0, 16)}...): ` +
        `it was changed or damaged after it was written, so it is not resumed. ${fix}`,
    );
  }
  return contents;
}

/** Reads a checkpoint written by writeCheckpoint; undefined when there is none. The caller disposes the tensors. */
export function readCheckpoint<State>(file: string): { state: State; tensors: TensorGroups } | undefined {
  if (!fs.existsSync(file)) return undefined;
  const bytes = verifiedContents(file, fs.readFileSync(file));
  let header: Header;
  try {
    const length = bytes.readUInt32LE(0);
    header = JSON.parse(bytes.subarray(4, 4 + length).toString('utf8'));
    if (header.format !== format) throw new Error(`format ${String(header.format)}, expected ${format}`);
    const dataStart = 4 + length;
    const tensors: TensorGroups = {};
    for (const [name, entries] of Object.entries(header.tensors)) {
      tensors[name] = entries.map((entry) => {
        const start = dataStart + entry.offset;
        if (start + entry.length * 4 > bytes.length) throw new Error(`${name} is cut short`);
        const copy = bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + start + entry.length * 4);
        const values = entry.dtype === 'int32' ? new Int32Array(copy) : new Float32Array(copy);
        return tf.tensor(values, entry.shape, entry.dtype);
      });
    }
    return { state: header.state as State, tensors };
  } catch (error) {
    throw new RuntimeFailure(`The checkpoint ${file} cannot be read (${(error as Error).message}). Delete it to start the phase over.`);
  }
}
