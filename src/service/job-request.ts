import fs from 'node:fs';
import path from 'node:path';
import { schemaLeaves } from '../config/load-config';
import { RequestError } from '../serve/request-error';

/** What a training job runs: a data folder on shared storage, the export name and configuration overrides by key. */
export interface JobRequest {
  /** Export name: the model lands in <export.out>/<name>/<version>. */
  name: string;
  /** Absolute path of the data folder (under service.dataRoots, or the job's unpacked upload). */
  dataDir: string;
  /** Configuration keys (e.g. "train.epochs") and values, layered over the worker's configuration. */
  overrides: Record<string, string>;
}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Keys a job may not set: where the worker keeps shared state (cache, runs, exports), which machine
 * resources it uses, and the serving and service settings. The worker's own configuration decides them.
 */
const workerOwnedKeys = [/^backend$/, /^base\.(cacheDir|featureCacheMaxMB|hubUrl|downloadTimeoutSeconds)$/, /^preprocess\.(extractWorkers|concurrency)$/, /^runs\./, /^export\.(out|name)$/, /^serve\./, /^service\./];

export function checkJobName(name: unknown): string {
  if (typeof name !== 'string' || !namePattern.test(name)) {
    throw new RequestError(400, `Received name ${JSON.stringify(name)}. Expected 1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit (it names the export folder).`);
  }
  return name;
}

/** Overrides as {key: value}; every key must be a configuration key a job may set, every value a string, number or boolean. */
export function checkOverrides(overrides: unknown): Record<string, string> {
  if (overrides === undefined) return {};
  if (!overrides || typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new RequestError(400, `Received config ${JSON.stringify(overrides)}. Expected an object of configuration keys and values, e.g. {"train.epochs": 5}.`);
  }
  const leaves = schemaLeaves();
  const checked: Record<string, string> = {};
  for (const [key, value] of Object.entries(overrides)) {
    if (!leaves.has(key)) throw new RequestError(400, `Unknown configuration key "${key}". Expected one of: ${[...leaves.keys()].filter((k) => !isWorkerOwned(k)).join(', ')}.`);
    if (isWorkerOwned(key)) throw new RequestError(400, `A job may not set "${key}": the worker's configuration decides it (shared folders, machine resources, serving).`);
    if (!['string', 'number', 'boolean'].includes(typeof value) && !Array.isArray(value)) {
      throw new RequestError(400, `Received ${key}=${JSON.stringify(value)}. Expected a string, number, boolean or list.`);
    }
    const text = Array.isArray(value) ? value.join(',') : String(value);
    if (key === 'base.id' && /[/\\]|^\./.test(text)) throw new RequestError(400, `Received base.id=${JSON.stringify(text)}. A job names a base model by id (e.g. mobilenet_v2), never by path.`);
    checked[key] = text;
  }
  return checked;
}

function isWorkerOwned(key: string): boolean {
  return workerOwnedKeys.some((pattern) => pattern.test(key));
}

/** The data folder's real path when it lies inside one of the roots (links resolved first); otherwise a 400 naming the roots. */
export function confineDataDir(dataDir: unknown, roots: string[]): string {
  if (typeof dataDir !== 'string' || dataDir === '') {
    throw new RequestError(400, `Received data ${JSON.stringify(dataDir)}. Expected the path of a data folder on shared storage, or an uploaded archive.`);
  }
  if (roots.length === 0) {
    throw new RequestError(400, 'This API accepts uploaded archives only: no data roots are configured (service.dataRoots, --data-roots).');
  }
  let real: string;
  try {
    real = fs.realpathSync(path.resolve(dataDir));
  } catch {
    throw new RequestError(400, `Data folder ${dataDir} does not exist. Expected a folder under ${roots.join(', ')}.`);
  }
  if (!roots.some((root) => isInside(real, root))) {
    throw new RequestError(400, `Data folder ${dataDir} is outside the configured data roots. Expected a folder under ${roots.join(', ')}.`);
  }
  if (!fs.statSync(real).isDirectory()) throw new RequestError(400, `Data path ${dataDir} is not a folder.`);
  return real;
}

/** True when `candidate` is `root` or below it (both resolved through links). */
export function isInside(candidate: string, root: string): boolean {
  let realRoot: string;
  try {
    realRoot = fs.realpathSync(path.resolve(root));
  } catch {
    return false;
  }
  const relative = path.relative(realRoot, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}
