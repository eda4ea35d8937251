/**
 * Typed errors. The CLI's single error boundary maps them to exit codes:
 * usage, configuration and data problems exit 2; an interrupted training run exits 130; anything else exits 1.
 */
export class FinetuneError extends Error {
  constructor(message: string, readonly exitCode: 1 | 2 | 130) {
    super(message);
    this.name = new.target.name;
  }
}

/** A flag, command or argument the CLI does not accept. */
export class UsageError extends FinetuneError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** A configuration key or value that is unknown or invalid. */
export class ConfigError extends FinetuneError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** A data folder, image or model the pipeline cannot use as given. */
export class DataError extends FinetuneError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** Something failed while running (network, disk, a backend). */
export class RuntimeFailure extends FinetuneError {
  constructor(message: string) {
    super(message, 1);
  }
}

/** The user stopped training (Ctrl-C): the last checkpoint is kept; exits 130 as shells do for SIGINT. */
export class TrainingInterrupted extends FinetuneError {
  constructor(message: string) {
    super(message, 130);
  }
}
