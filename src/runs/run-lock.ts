import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../errors';
import { processAlive } from '../stale-temporaries';
import type { RunDirectory } from './run-directory';

export interface RunLock {
  /** Removes the lock file if it is still this lock's. */
  release(): void;
}

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

export const lockFileName = 'run.lock';

function readOwner(file: string): LockOwner | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LockOwner;
  } catch {
    return undefined; // gone, or cut short by a crash while it was written
  }
}

/** A lock held by a process that no longer runs here (or an unreadable one): safe to take over. */
function isStale(owner: LockOwner | undefined): boolean {
  return !owner || (owner.host === os.hostname() && !processAlive(owner.pid));
}

/**
 * One process at a time trains in a run folder (a first run, or its --resume): run.lock holds the
 * owner's pid, created exclusively. A lock left by a process that died is taken over; a live owner's
 * lock is a UsageError naming it.
 */
export function lockRun(run: RunDirectory): RunLock {
  const file = path.join(run.dir, lockFileName);
  const mine: LockOwner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
  const text = `${JSON.stringify(mine)}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      fs.writeFileSync(file, text, { flag: 'wx' });
      const release = () => {
        const owner = readOwner(file);
        if (owner?.pid === mine.pid && owner.since === mine.since) fs.rmSync(file, { force: true });
      };
      return { release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = readOwner(file);
    if (!isStale(owner)) {
      throw new UsageError(
        `Run ${run.id} is in use by process ${owner!.pid} on ${owner!.host} since ${owner!.since} (${file}). ` +
          'Expected one process per run: wait for it to finish or stop it; a lock left by a process that is gone is taken over.',
      );
    }
    takeOverStale(file, owner);
  }
  throw new UsageError(`Run ${run.id}: could not take its lock ${file}; another process keeps taking it. Try again.`);
}

/**
 * Moves a stale lock aside (one atomic rename: of two processes taking over, only one moves it) and
 * puts it back if what was moved turns out to be another, live owner's fresh lock.
 */
function takeOverStale(file: string, seen: LockOwner | undefined): void {
  const aside = `${file}.stale-${process.pid}`;
  try {
    fs.renameSync(file, aside);
  } catch {
    return; // someone else moved it first
  }
  const moved = readOwner(aside);
  if (seen && moved && (moved.pid !== seen.pid || moved.since !== seen.since)) {
    fs.renameSync(aside, file);
    return;
  }
  fs.rmSync(aside, { force: true });
}
