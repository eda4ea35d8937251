import fs from 'node:fs';
import os from 'node:os';
import type { Logger } from '../logger';

/** Raises the nice value of thread `tid` of this process by `steps`, up to 19; the reason where not allowed. */
function lower(tid: number, steps: number): string | undefined {
  try {
    os.setPriority(tid, Math.min(19, os.getPriority(tid) + steps));
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The calling thread's id (Linux: a thread is a task with its own nice value); undefined elsewhere. */
function ownThreadId(): number | undefined {
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').at(-1));
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Lowers the scheduling priority of the calling thread by `steps` nice steps, up to 19: a worker thread
 * computing batches or parsing bodies then yields the cores to the thread answering HTTP, so /healthz
 * and small requests stay fast while it works. Answers why it could not (e.g. a container forbidding
 * it), undefined otherwise; does nothing where threads have no nice value of their own (not Linux).
 */
export function lowerThreadPriority(steps: number): string | undefined {
  const tid = steps > 0 ? ownThreadId() : undefined;
  return tid === undefined ? undefined : lower(tid, steps);
}

/** Names the calling thread as `ps -L` and `top -H` show it (at most 15 characters; Linux only). */
export function nameThread(name: string): void {
  try {
    fs.writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
  } catch {
    // Not Linux: the thread keeps its name.
  }
}

const lowered = new Set<number>();

/**
 * Lowers by `steps`, once each, the threads of this process called `name` (Linux /proc/self/task/<tid>/comm).
 * Answers the first reason one could not be lowered, undefined otherwise; does nothing elsewhere.
 */
function lowerThreadsNamed(name: string, steps: number): string | undefined {
  let tids: string[];
  try {
    tids = fs.readdirSync('/proc/self/task');
  } catch {
    return undefined;
  }
  let failure: string | undefined;
  for (const tid of tids.map(Number)) {
    if (lowered.has(tid)) continue;
    try {
      if (fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== name) continue;
    } catch {
      continue; // The thread ended meanwhile.
    }
    const reason = lower(tid, steps);
    if (reason === undefined) lowered.add(tid);
    failure ??= reason;
  }
  return failure;
}

/**
 * How far below the thread answering HTTP the server's other work runs (serve.workerNice): inference
 * and body-parse workers lower themselves at start, libvips' decoding threads are lowered here. A
 * failure is logged once and serving goes on at equal priority.
 */
export class WorkerPriority {
  private warned = false;

  constructor(
    /** Nice steps below the HTTP thread, 0..19; 0 leaves every thread at its priority. */
    readonly steps: number,
    private readonly logger?: Logger,
  ) {}

  /**
   * Lowers threads started by libvips itself (sharp's decodes run on them) at the HTTP thread's
   * priority. Threads started later inherit the priority of the thread starting them, and libvips
   * keeps its threads, so calling this after they exist is enough.
   */
  lowerThreadsNamed(name: string): void {
    if (this.steps > 0) this.failed(lowerThreadsNamed(name, this.steps));
  }

  /** Logs the first reason a thread could not be lowered. */
  failed(reason: string | undefined): void {
    if (reason === undefined || this.warned) return;
    this.warned = true;
    this.logger?.warn(`cannot lower the priority of the server's worker threads by ${this.steps} (serve.workerNice): ${reason}. They compete with the thread answering HTTP at its priority.`);
  }
}
