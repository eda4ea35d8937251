export type CheckStatus = 'pass' | 'warn' | 'fail';

/** The outcome of one sanity check, as `doctor --json` prints it. */
export interface CheckResult {
  /** `<stage>.<what-it-tests>`, e.g. train.overfits-ten-samples. */
  name: string;
  status: CheckStatus;
  /** What was found, with the numbers. */
  detail: string;
  /** What to do about it; empty when the check passes. */
  fix: string;
  /** The measured values the status was decided on. */
  measured: Record<string, unknown>;
  /** Seconds the check took (set by the runner). */
  seconds?: number;
}

export function passed(name: string, detail: string, measured: Record<string, unknown>): CheckResult {
  return { name, status: 'pass', detail, fix: '', measured };
}
