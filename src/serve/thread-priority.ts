import fs from 'node:fs';
import os from 'node:os';

/** Lowers the nice value of thread `tid` of this process by `steps`, up to 19; false where not allowed. */
function lower(tid: number, steps: number): boolean {
  try {
    os.setPriority(tid, Math.min(19, os.getPriority(tid) + steps));
    return true;
  } catch {
    return false;
  }
}

/**
 * Lowers the scheduling priority of the calling thread (Linux: a thread is a task with its own nice
 * value) by `steps`, up to 19. Worker threads computing batches or parsing bodies then yield the cores
 * to the thread answering HTTP, so /healthz and small requests stay fast while they work. Does nothing
 * where threads cannot be named (no /proc/thread-self).
 */
export function lowerThreadPriority(steps = 10): void {
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').at(-1));
    if (Number.isInteger(tid) && tid > 0) lower(tid, steps);
  } catch {
    // Not Linux: the thread keeps its priority.
  }
}

const lowered = new Set<number>();

/**
 * Lowers by `steps`, once each, the threads of this process called `name` (Linux /proc/self/task/<tid>/comm),
 * e.g. libvips' "libvips worker" threads, which sharp's decodes run on and which are started by libvips
 * itself, at the priority of the thread that answers HTTP. Threads started later inherit the priority
 * of the thread starting them, so calling this after they exist is enough. Does nothing elsewhere.
 */
export function lowerThreadsNamed(name: string, steps = 10): void {
  let tids: string[];
  try {
    tids = fs.readdirSync('/proc/self/task');
  } catch {
    return;
  }
  for (const tid of tids.map(Number)) {
    if (lowered.has(tid)) continue;
    try {
      if (fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === name && lower(tid, steps)) lowered.add(tid);
    } catch {
      // The thread ended meanwhile.
    }
  }
}
