import fs from 'node:fs';
import path from 'node:path';

/** Whether a process with this id runs on this machine (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A temporary folder's name prefix that records its writer: `<prefix><pid>-` (the caller adds random characters). */
export function ownedPrefix(prefix: string): string {
  return `${prefix}${process.pid}-`;
}

/** Folders without a writer's pid in their name (left by an older version) count as stale only after this long. */
const unownedStaleMs = 24 * 3600 * 1000;

/**
 * Removes the temporary folders `<prefix>*` in `dir` that a crash left behind: those whose writer's pid
 * (recorded by ownedPrefix) no longer runs here, and unowned ones untouched for a day. A folder a live
 * process is writing is never touched. Returns the folders removed.
 */
export function removeStaleTemporaries(dir: string, prefix: string, now = Date.now()): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((name) => name.startsWith(prefix));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const full = path.join(dir, name);
    const pid = /^(\d+)-/.exec(name.slice(prefix.length))?.[1];
    let stale: boolean;
    if (pid !== undefined) stale = !processAlive(Number(pid));
    else {
      try {
        stale = now - fs.statSync(full).mtimeMs > unownedStaleMs;
      } catch {
        continue;
      }
    }
    if (!stale) continue;
    try {
      fs.rmSync(full, { recursive: true, force: true });
      removed.push(full);
    } catch {
      // another process is removing it, or it cannot be removed: it stays for the next time
    }
  }
  return removed;
}
