import { StderrLogger, type Logger } from '../logger';
import { LogLineProgress, type Progress } from '../progress';
import { TerminalProgress } from '../terminal-progress';

/**
 * How progress and logs show on stderr: a live bar when stderr is a terminal, plain log lines
 * when it is not or when --json is given (output meant for programs and log files).
 */
export function stderrOutput(options: { json?: boolean; stream?: NodeJS.WriteStream }): { logger: Logger; progress: Progress } {
  const stream = options.stream ?? process.stderr;
  if (!options.json && stream.isTTY) {
    const progress = new TerminalProgress(stream);
    return { logger: new StderrLogger(false, (text) => progress.print(text)), progress };
  }
  const logger = new StderrLogger(false, (text) => stream.write(text));
  return { logger, progress: new LogLineProgress(logger) };
}
