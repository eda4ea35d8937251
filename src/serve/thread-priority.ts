import fs from 'node:fs';
import os from 'node:os';

/**
 * Lowers the scheduling priority of the calling thread (Linux: a thread is a task with its own nice
 * value) by `steps`, up to 19. Worker threads computing batches or parsing bodies then yield the cores
 * to the thread answering HTTP, so /healthz and small requests stay fast while they work. Does nothing
 * where threads cannot be named (no /proc/thread-self).
 */
export function lowerThreadPriority(steps = 10): void {
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').at(-1));
    if (!Number.isInteger(tid) || tid <= 0) return;
    os.setPriority(tid, Math.min(19, os.getPriority(tid) + steps));
  } catch {
    // Not Linux, or not allowed: the thread keeps its priority.
  }
}
