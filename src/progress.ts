import type { interfaces } from 'inversify';
import type { Logger } from './logger';

/** One long step being counted: images checked, features computed, batches trained. */
export interface ProgressTask {
  /** `done` units out of the task's total so far; `detail` is a short status (e.g. the last loss). */
  update(done: number, detail?: string): void;
  /** The task ended (finished or not); a second call does nothing. */
  stop(): void;
}

/**
 * Progress of long steps, on stderr. The CLI chooses how it shows: a live bar on a terminal,
 * plain log lines otherwise (--json, pipes, CI logs); pipelines only start, update and stop tasks.
 */
export interface Progress {
  /** Starts counting `total` units (named `unit`, e.g. "images") of the step `label`. */
  start(label: string, total: number, unit: string): ProgressTask;
}
export const Progress: interfaces.ServiceIdentifier<Progress> = Symbol.for('finetune.Progress');

const idleTask: ProgressTask = { update() {}, stop() {} };

export const silentProgress: Progress = { start: () => idleTask };

/** Units per second and seconds left, from the elapsed time; undefined until something was done. */
export function rateAndEta(done: number, total: number, elapsedSeconds: number): { rate?: number; etaSeconds?: number } {
  if (done <= 0 || elapsedSeconds <= 0) return {};
  const rate = done / elapsedSeconds;
  return { rate, etaSeconds: Math.max(0, total - done) / rate };
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function formatRate(rate: number, unit: string): string {
  return `${rate >= 10 ? rate.toFixed(0) : rate.toPrecision(2)} ${unit}/s`;
}

/**
 * Progress as plain log lines through the Logger, for output that is not a terminal: one line
 * at most every `intervalSeconds` while a task runs, and one when it stops, with counts, rate and ETA.
 */
export class LogLineProgress implements Progress {
  constructor(
    private readonly logger: Logger,
    private readonly intervalSeconds = 10,
    private readonly now: () => number = Date.now,
  ) {}

  start(label: string, total: number, unit: string): ProgressTask {
    const started = this.now();
    let lastLine = started;
    let done = 0;
    let detail: string | undefined;
    let stopped = false;
    const line = (final: boolean) => {
      const elapsed = (this.now() - started) / 1000;
      const { rate, etaSeconds } = rateAndEta(done, total, elapsed);
      const timing = final
        ? ` in ${formatDuration(elapsed)}${rate !== undefined ? ` (${formatRate(rate, unit)})` : ''}`
        : `${rate !== undefined ? `, ${formatRate(rate, unit)}` : ''}${etaSeconds !== undefined ? `, ETA ${formatDuration(etaSeconds)}` : ''}`;
      this.logger.info(`  ${label}: ${done}/${total} ${unit}${timing}${detail ? `, ${detail}` : ''}`);
    };
    return {
      update: (value, text) => {
        if (stopped) return;
        done = value;
        if (text !== undefined) detail = text;
        if (done < total && this.now() - lastLine >= this.intervalSeconds * 1000) {
          lastLine = this.now();
          line(false);
        }
      },
      stop: () => {
        if (stopped) return;
        stopped = true;
        if (total > 0) line(true);
      },
    };
  }
}
