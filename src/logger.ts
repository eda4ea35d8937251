import type { interfaces } from 'inversify';

/** Progress and diagnostics. They go to stderr so that stdout carries only results. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}
export const Logger: interfaces.ServiceIdentifier<Logger> = Symbol.for('finetune.Logger');

export class StderrLogger implements Logger {
  constructor(private readonly quiet = false) {}
  info(message: string): void {
    if (!this.quiet) process.stderr.write(`${message}\n`);
  }
  warn(message: string): void {
    process.stderr.write(`warning: ${message}\n`);
  }
}

export const silentLogger: Logger = { info() {}, warn() {} };
