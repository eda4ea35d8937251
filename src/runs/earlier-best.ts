import { RuntimeFailure } from '../errors';
import type { EpochRecord } from './run-directory';

/** The best model a run had reached: the validation accuracy of a phase's best epoch (lowest validation loss). */
export interface EarlierBest {
  accuracy: number;
  phase: string;
  /** 1-based, as epochs are shown. */
  epoch: number;
}

/**
 * The highest validation accuracy among each phase's best epoch, by the rule early stopping restores
 * (lowest validation loss); undefined when no epoch was validated.
 */
export function earlierBest(records: EpochRecord[]): EarlierBest | undefined {
  const bestOfPhase = new Map<string, EpochRecord>();
  for (const record of records) {
    if (typeof record.valLoss !== 'number' || typeof record.valAccuracy !== 'number') continue;
    const best = bestOfPhase.get(record.phase);
    if (!best || record.valLoss < (best.valLoss as number)) bestOfPhase.set(record.phase, record);
  }
  let top: EarlierBest | undefined;
  for (const record of bestOfPhase.values()) {
    const accuracy = record.valAccuracy as number;
    if (!top || accuracy > top.accuracy) top = { accuracy, phase: record.phase, epoch: record.epoch + 1 };
  }
  return top;
}

/**
 * Compares the model about to be exported with what the run had reached before (e.g. before a resume).
 * More than one validation image worse is a regression: refused (RuntimeFailure) when a quality gate
 * (export.minAccuracy > 0) is set, otherwise returned as a loud warning for the caller to show.
 */
export function checkAgainstEarlierBest(
  score: { accuracy: number; n: number },
  earlier: EarlierBest | undefined,
  minAccuracy: number,
): string | undefined {
  if (!earlier || score.n === 0) return undefined;
  if (score.accuracy >= earlier.accuracy - 1 / score.n) return undefined;
  const what =
    `The model to export has validation accuracy ${score.accuracy.toFixed(3)} (on ${score.n} images), below this run's own earlier best of ` +
    `${earlier.accuracy.toFixed(3)} (${earlier.phase} epoch ${earlier.epoch}, recorded in metrics.jsonl before this resume)`;
  if (minAccuracy > 0) {
    throw new RuntimeFailure(
      `${what}; with export.minAccuracy set (${minAccuracy}) nothing was exported. Its checkpoint may be damaged or training diverged: ` +
        'start a new run with finetune train --data DIR.',
    );
  }
  return `WARNING: ${what}. It was exported anyway; set --min-accuracy to refuse such exports, or start a new run.`;
}
