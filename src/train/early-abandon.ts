import type { EpochLog } from './fit';

/** Standard errors below the head-only model at which fine-tuning has clearly lost. */
export const abandonMargin = 2;
/** Epochs fine-tuning always gets before it can be abandoned. */
export const abandonAfterEpochs = 2;

/**
 * Stops fine-tuning once it has clearly lost to the head-only model: after at least
 * `abandonAfterEpochs` epochs, the last epoch did not improve validation accuracy, and even the
 * best epoch so far trails the head-only model by more than `abandonMargin` standard errors.
 * Per-image predictions are not at hand between epochs, so the standard error is that of two
 * independent accuracies, sqrt(p1(1-p1)/n + p2(1-p2)/n): larger than the paired one, so the rule
 * abandons only later, never sooner. Returns why it stops, or undefined to go on.
 */
export function abandonReason(history: EpochLog[], headOnly: { accuracy: number; n: number }): string | undefined {
  const accuracies = history.map((log) => log.valAccuracy).filter((a): a is number => a !== undefined);
  if (accuracies.length < abandonAfterEpochs || headOnly.n === 0) return undefined;
  const last = accuracies.at(-1)!;
  const best = Math.max(...accuracies);
  const improving = last > Math.max(...accuracies.slice(0, -1));
  const { accuracy: head, n } = headOnly;
  const standardError = Math.sqrt((head * (1 - head) + best * (1 - best)) / n);
  if (improving || head - best <= abandonMargin * standardError) return undefined;
  return (
    `its best validation accuracy ${best.toFixed(3)} trailed the head-only model's ${head.toFixed(3)} by more than ` +
    `${abandonMargin} standard errors (${(abandonMargin * standardError).toFixed(3)}) and had stopped improving`
  );
}
