import type { EpochLog } from './fit';
import type { TrainingCallback, TrainingLoop } from './training-callback';
import { TrainingHistory } from './training-history';

/** Standard errors below the head-only model at which fine-tuning has clearly lost. */
export const abandonMargin = 2;
/** Epochs fine-tuning always gets before it can be abandoned. */
export const abandonAfterEpochs = 2;

/**
 * Whether fine-tuning has clearly lost to the head-only model: after at least `abandonAfterEpochs`
 * epochs, the last epoch did not improve validation accuracy, and even the best epoch so far
 * trails the head-only model by more than `abandonMargin` standard errors. Per-image predictions
 * are not at hand between epochs, so the standard error is that of two independent accuracies,
 * sqrt(p1(1-p1)/n + p2(1-p2)/n): larger than the paired one, so the rule abandons later, never
 * sooner. Returns why it stops, or undefined to go on.
 */
export function abandonReason(valAccuracies: number[], headOnly: { accuracy: number; n: number }): string | undefined {
  if (valAccuracies.length < abandonAfterEpochs || headOnly.n === 0) return undefined;
  const last = valAccuracies.at(-1)!;
  const best = Math.max(...valAccuracies);
  const improving = last > Math.max(...valAccuracies.slice(0, -1));
  const { accuracy: head, n } = headOnly;
  const standardError = Math.sqrt((head * (1 - head) + best * (1 - best)) / n);
  if (improving || head - best <= abandonMargin * standardError) return undefined;
  return (
    `its best validation accuracy ${best.toFixed(3)} trailed the head-only model's ${head.toFixed(3)} by more than ` +
    `${abandonMargin} standard errors (${(abandonMargin * standardError).toFixed(3)}) and had stopped improving`
  );
}

/**
 * Stops the fine-tuning phase once it has clearly lost to the head-only model (abandonReason),
 * reading the fit's own history, so a resumed phase judges its earlier epochs too. What it stopped
 * for is in `abandoned`; the keep-or-drop step then puts the head-only model back.
 */
export class EarlyAbandon implements TrainingCallback {
  abandoned: { epoch: number; reason: string } | undefined;
  private readonly headOnly: { accuracy: number; n: number };

  /** `headOnlyCorrect`: which validation images the head-only model classifies right. */
  constructor(headOnlyCorrect: boolean[]) {
    this.headOnly = { accuracy: headOnlyCorrect.filter(Boolean).length / Math.max(headOnlyCorrect.length, 1), n: headOnlyCorrect.length };
  }

  onEpochEnd(log: EpochLog, loop: TrainingLoop): void {
    const epochs = loop.callbacks.find(TrainingHistory)?.epochs ?? [log];
    const reason = abandonReason(
      epochs.map((epoch) => epoch.valAccuracy).filter((accuracy): accuracy is number => accuracy !== undefined),
      this.headOnly,
    );
    if (!reason) return;
    this.abandoned = { epoch: log.epoch, reason };
    loop.stopTraining = true;
  }
}
