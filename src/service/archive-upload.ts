import fs from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import { RequestError } from '../serve/request-error';

export interface ArchiveLimits {
  maxFiles: number;
  maxBytes: number;
}

/** Regular files and folders only: links (symbolic or hard), devices and fifos are refused. */
const allowedTypes = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

/**
 * Unpacks an uploaded tar (optionally gzipped) into `target`, after checking every entry first:
 * paths relative and inside the folder (no "..", no absolute path), regular files and folders only,
 * at most `maxFiles` entries and `maxBytes` bytes. Nothing is written unless the whole archive passes.
 * node-tar is npm's own archive library: it streams (the archive is never held in memory), and on
 * extraction it refuses ".." and absolute paths and links in the way by itself; the filter below
 * repeats the type check so that a second line of defence stays when the listing is changed.
 * Returns the data folder: `target`, or the single folder at its top when the archive wraps one.
 */
export async function unpackArchive(archive: string, target: string, limits: ArchiveLimits): Promise<string> {
  await checkEntries(archive, limits);
  fs.mkdirSync(target, { recursive: true });
  await tar.x({
    file: archive,
    cwd: target,
    strict: true,
    preservePaths: false,
    preserveOwner: false,
    filter: (_path, entry) => 'type' in entry && allowedTypes.has(entry.type as string),
  });
  const top = fs.readdirSync(target, { withFileTypes: true });
  return top.length === 1 && top[0].isDirectory() ? path.join(target, top[0].name) : target;
}

async function checkEntries(archive: string, limits: ArchiveLimits): Promise<void> {
  let files = 0;
  let bytes = 0;
  const refusals: string[] = [];
  try {
    await tar.t({
      file: archive,
      strict: true,
      onReadEntry: (entry) => {
        files += 1;
        bytes += entry.size ?? 0;
        const problem = entryProblem(entry.path, entry.type);
        if (problem && refusals.length < 5) refusals.push(problem);
      },
    });
  } catch (error) {
    throw new RequestError(400, `The uploaded archive cannot be read (${(error as Error).message}). Expected a .tar or .tar.gz of the data folder.`);
  }
  if (refusals.length > 0) throw new RequestError(400, `The uploaded archive was refused: ${refusals.join('; ')}. Expected regular files and folders with relative paths inside the archive.`);
  if (files === 0) throw new RequestError(400, 'The uploaded archive is empty. Expected a .tar or .tar.gz of the data folder (one subfolder per class).');
  if (files > limits.maxFiles) throw new RequestError(413, `The uploaded archive holds ${files} entries, more than service.maxArchiveFiles ${limits.maxFiles}.`);
  if (bytes > limits.maxBytes) throw new RequestError(413, `The uploaded archive unpacks to ${bytes} bytes, more than service.maxArchiveBytes ${limits.maxBytes}.`);
}

function entryProblem(entryPath: string, type: string): string | undefined {
  if (!allowedTypes.has(type)) return `${JSON.stringify(entryPath)} is a ${type}`;
  const normalized = entryPath.replace(/\\/g, '/');
  if (normalized.startsWith('/') || /^[A-Za-z]:/.test(normalized) || normalized.includes('\0')) return `${JSON.stringify(entryPath)} is an absolute path`;
  if (normalized.split('/').includes('..')) return `${JSON.stringify(entryPath)} leads out of the folder`;
  return undefined;
}
