import type * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { RuntimeFailure } from '../errors';
import type { Logger } from '../logger';
import { ownedPrefix, removeStaleTemporaries } from '../stale-temporaries';

export interface DownloadOptions {
  /** Milliseconds without any progress (connecting, headers, or the next chunk) before a request is abandoned. */
  timeoutMs: number;
  logger: Logger;
  /** Largest download, all files together, in bytes. Defaults to maxDownloadBytes. */
  maxBytes?: number;
}

/** Far above any MobileNet-sized model (MobileNetV2 1.4 is ~25 MB), far below what would fill memory or disk. */
export const maxDownloadBytes = 1024 * 2 ** 20;

/** One file of a completed download, as recorded in download.json. */
export interface DownloadedFile {
  name: string;
  url: string;
  bytes: number;
  sha256: string;
}

/** download.json: written last, before the folder gets its final name; proves the download completed. */
export interface DownloadRecord {
  url: string;
  downloadedAt: string;
  files: DownloadedFile[];
}

export type DownloadCheck = { ok: true; record: DownloadRecord } | { ok: false; problem: string };

export const downloadRecordName = 'download.json';

const offlineAlternative =
  'Without network, use the offline default --base mobilenet_v2, or a local tfjs LayersModel folder with --base ./path.';

/** Bytes per element of each weight dtype as stored in a shard (before dequantization). */
const storedBytesPerElement: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/** Prefix (within targetDir's parent) of the sibling folders downloads are written into before one is renamed to targetDir. */
export function temporaryPrefixFor(targetDir: string): string {
  return `${path.basename(path.resolve(targetDir))}.partial-`;
}

function sha256Of(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The error chain of a failed fetch as one line, e.g. "fetch failed (connect ECONNREFUSED 127.0.0.1:4000)". */
function describeCause(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && depth < 4; depth++) {
    if (current instanceof Error) {
      const code = (current as NodeJS.ErrnoException).code;
      const text = code && !current.message.includes(code) ? `${code}: ${current.message}` : current.message;
      if (text && !parts.includes(text)) parts.push(text);
      current = (current as Error & { cause?: unknown }).cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.length === 0 ? 'unknown error' : parts.length === 1 ? parts[0] : `${parts[0]} (${parts.slice(1).join('; ')})`;
}

function networkFailure(url: string, cause: string): RuntimeFailure {
  return new RuntimeFailure(
    `Could not download ${url}: ${cause}. Expected the model host (base.hubUrl, --hub-url) to be reachable and to serve the file. ` +
      offlineAlternative,
  );
}

/** Bytes a download may still take; fetchBytes draws from it. */
interface ByteBudget {
  left: number;
  readonly max: number;
}

function tooLarge(url: string, budget: ByteBudget, received: string): RuntimeFailure {
  return new RuntimeFailure(
    `Could not download ${url}: ${received}, more than the ${budget.max} bytes a model download may take. ` +
      `Expected a model of at most that size; check base.hubUrl (--hub-url). ${offlineAlternative}`,
  );
}

/**
 * GET url into memory, within the budget (refused by its announced length, or as soon as it exceeds it).
 * The timer restarts on every chunk, so slow but steady downloads are not cut off.
 */
async function fetchBytes(url: string, timeoutMs: number, budget: ByteBudget): Promise<Buffer> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let stalled = false;
  const restartTimer = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      controller.abort();
    }, timeoutMs);
  };
  restartTimer();
  try {
    const response = await fetch(url, { signal: controller.signal });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw networkFailure(url, `the server answered HTTP ${response.status} ${response.statusText}`.trimEnd());
    }
    const announced = Number(response.headers.get('content-length') ?? NaN);
    if (announced > budget.left) {
      await response.body?.cancel().catch(() => undefined);
      throw tooLarge(url, budget, `the server announced ${announced} bytes`);
    }
    const chunks: Uint8Array[] = [];
    if (response.body) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        budget.left -= value.length;
        if (budget.left < 0) {
          await reader.cancel().catch(() => undefined);
          throw tooLarge(url, budget, 'the files add up to');
        }
        chunks.push(value);
        restartTimer();
      }
    }
    const bytes = Buffer.concat(chunks);
    const declared = response.headers.get('content-length');
    const encoding = response.headers.get('content-encoding');
    if (declared !== null && (!encoding || encoding === 'identity') && Number(declared) !== bytes.length) {
      throw networkFailure(url, `received ${bytes.length} bytes, but the server announced ${declared} (connection cut short)`);
    }
    return bytes;
  } catch (error) {
    if (error instanceof RuntimeFailure) throw error;
    if (stalled) throw networkFailure(url, `no data arrived for ${timeoutMs / 1000} s (timeout; base.downloadTimeoutSeconds, --download-timeout)`);
    throw networkFailure(url, describeCause(error));
  } finally {
    clearTimeout(timer);
  }
}

/** Bytes a weight group's shards add up to, or undefined when the manifest does not determine it (e.g. string weights). */
export function expectedGroupBytes(weights: tf.io.WeightsManifestEntry[]): number | undefined {
  let total = 0;
  for (const weight of weights) {
    const dtype = weight.quantization?.dtype ?? weight.dtype;
    const size = storedBytesPerElement[dtype];
    if (size === undefined) return undefined;
    total += weight.shape.reduce((product, dim) => product * dim, 1) * size;
  }
  return total;
}

/** A shard path from a remote manifest, which must stay inside the download folder. */
function checkShardName(url: string, shard: unknown): string {
  if (
    typeof shard !== 'string' ||
    shard === '' ||
    shard !== path.basename(shard) ||
    shard === '.' ||
    shard === '..' ||
    shard.includes('\\') ||
    shard === 'model.json' ||
    shard === downloadRecordName
  ) {
    throw new RuntimeFailure(
      `${url} lists weight file ${JSON.stringify(shard)}. Expected a plain file name beside model.json (like "group1-shard1of2.bin"). ` +
        `The server does not serve a TensorFlow.js model at this address; check base.hubUrl (--hub-url). ${offlineAlternative}`,
    );
  }
  return shard;
}

/** Where tfjs fetches a weight file from: beside model.json, keeping model.json's query (TF Hub's ?tfjs-format=file). */
function shardUrlFor(modelJsonUrl: string, shard: string): string {
  const base = new URL(modelJsonUrl);
  const url = new URL(encodeURIComponent(shard), base);
  url.search = base.search;
  return url.toString();
}

function parseModelJson(url: string, bytes: Buffer): tf.io.ModelJSON {
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new RuntimeFailure(
      `${url} did not return JSON (${(error as Error).message}; received ${bytes.length} bytes starting ${JSON.stringify(bytes.subarray(0, 40).toString('utf8'))}). ` +
        `Expected a TensorFlow.js model.json; check base.hubUrl (--hub-url). ${offlineAlternative}`,
    );
  }
  if (!modelJson || typeof modelJson !== 'object' || !modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new RuntimeFailure(
      `${url} returned JSON without "modelTopology" and a "weightsManifest" list. Expected a TensorFlow.js model.json; check base.hubUrl (--hub-url). ` +
        offlineAlternative,
    );
  }
  return modelJson;
}

/**
 * Downloads model.json and every weight shard its manifest lists into targetDir, atomically:
 * files go into a temporary sibling folder, are checked against the manifest, recorded with
 * their SHA-256 in download.json, and only then is the folder renamed to targetDir.
 * An existing targetDir is replaced.
 */
export async function downloadModelFiles(modelJsonUrl: string, targetDir: string, options: DownloadOptions): Promise<DownloadRecord> {
  const finalDir = path.resolve(targetDir);
  const parent = path.dirname(finalDir);
  fs.mkdirSync(parent, { recursive: true });
  for (const left of removeStaleTemporaries(parent, temporaryPrefixFor(finalDir))) {
    options.logger.warn(`removed ${left}, left over from an interrupted download`);
  }
  // Each download has its own folder: two concurrent downloads of one model never share or delete each other's files.
  const temporaryDir = fs.mkdtempSync(path.join(parent, ownedPrefix(temporaryPrefixFor(finalDir))));
  const budget: ByteBudget = { left: options.maxBytes ?? maxDownloadBytes, max: options.maxBytes ?? maxDownloadBytes };
  try {
    const files: DownloadedFile[] = [];
    const save = (name: string, url: string, bytes: Buffer): void => {
      fs.writeFileSync(path.join(temporaryDir, name), bytes);
      files.push({ name, url, bytes: bytes.length, sha256: sha256Of(bytes) });
    };

    const modelJsonBytes = await fetchBytes(modelJsonUrl, options.timeoutMs, budget);
    const modelJson = parseModelJson(modelJsonUrl, modelJsonBytes);
    save('model.json', modelJsonUrl, modelJsonBytes);

    for (const [index, group] of modelJson.weightsManifest.entries()) {
      if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
        throw new RuntimeFailure(
          `${modelJsonUrl}: weightsManifest[${index}] has no "paths" and "weights" lists. Expected a TensorFlow.js model.json. ${offlineAlternative}`,
        );
      }
      let groupBytes = 0;
      for (const entry of group.paths) {
        const shard = checkShardName(modelJsonUrl, entry);
        const url = shardUrlFor(modelJsonUrl, shard);
        const bytes = await fetchBytes(url, options.timeoutMs, budget);
        save(shard, url, bytes);
        groupBytes += bytes.length;
        options.logger.info(`  ${shard}: ${(bytes.length / 1e6).toFixed(1)} MB`);
      }
      const expected = expectedGroupBytes(group.weights);
      if (expected !== undefined && expected !== groupBytes) {
        throw new RuntimeFailure(
          `Weight files ${group.paths.join(', ')} from ${modelJsonUrl} hold ${groupBytes} bytes, but their manifest describes ${expected} bytes of weights. ` +
            `The download is incomplete or the files were changed on the server; try again. ${offlineAlternative}`,
        );
      }
    }

    const record: DownloadRecord = { url: modelJsonUrl, downloadedAt: new Date().toISOString(), files };
    fs.writeFileSync(path.join(temporaryDir, downloadRecordName), `${JSON.stringify(record, null, 2)}\n`);
    return moveIntoPlace(temporaryDir, finalDir, record);
  } catch (error) {
    fs.rmSync(temporaryDir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Renames the finished download to finalDir. A complete folder that a concurrent download put there
 * first is kept (and this copy dropped) rather than deleted under a reader; anything else there is replaced.
 */
function moveIntoPlace(temporaryDir: string, finalDir: string, record: DownloadRecord): DownloadRecord {
  try {
    fs.renameSync(temporaryDir, finalDir);
    return record;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
  }
  const existing = verifyDownloadedModel(finalDir);
  if (existing.ok) {
    fs.rmSync(temporaryDir, { recursive: true, force: true });
    return existing.record;
  }
  fs.rmSync(finalDir, { recursive: true, force: true });
  fs.renameSync(temporaryDir, finalDir);
  return record;
}

/**
 * Checks a folder written by downloadModelFiles against its download.json: every file recorded
 * there must exist with the recorded size and SHA-256. Anything else means the folder is corrupt.
 */
export function verifyDownloadedModel(dir: string): DownloadCheck {
  const recordPath = path.join(dir, downloadRecordName);
  if (!fs.existsSync(recordPath)) return { ok: false, problem: `${recordPath} is missing, so the download never completed` };
  let record: DownloadRecord;
  try {
    record = JSON.parse(fs.readFileSync(recordPath, 'utf8'));
  } catch (error) {
    return { ok: false, problem: `${recordPath} is not valid JSON (${(error as Error).message})` };
  }
  if (!record || !Array.isArray(record.files) || !record.files.some((file) => file?.name === 'model.json')) {
    return { ok: false, problem: `${recordPath} does not list model.json among its files` };
  }
  for (const file of record.files) {
    if (typeof file?.name !== 'string' || file.name !== path.basename(file.name)) {
      return { ok: false, problem: `${recordPath} lists an invalid file name ${JSON.stringify(file?.name)}` };
    }
    const filePath = path.join(dir, file.name);
    if (!fs.existsSync(filePath)) return { ok: false, problem: `${filePath} is missing` };
    const bytes = fs.readFileSync(filePath);
    if (bytes.length !== file.bytes) return { ok: false, problem: `${filePath} has ${bytes.length} bytes, expected ${file.bytes}` };
    const sha256 = sha256Of(bytes);
    if (sha256 !== file.sha256) return { ok: false, problem: `${filePath} has SHA-256 ${sha256}, expected ${file.sha256}` };
  }
  return { ok: true, record };
}
