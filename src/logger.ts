import type { interfaces } from 'inversify';

/** Progress and diagnostics. They go to stderr so that stdout carries only results. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}
export const Logger: interfaces.ServiceIdentifier<Logger> = Symbol.for('finetune.Logger');

export class StderrLogger implements Logger {
  constructor(
    private readonly quiet = false,
    /** Where lines go; a live progress bar passes its own writer so lines appear above the bar. */
    private readonly write: (text: string) => void = (text) => process.stderr.write(text),
  ) {}
  info(message: string): void {
    if (!this.quiet) this.write(`${message}\n`);
  }
  warn(message: string): void {
    this.write(`warning: ${message}\n`);
  }
}

export const silentLogger: Logger = { info() {}, warn() {} };
