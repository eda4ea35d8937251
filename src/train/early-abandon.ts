import type { EpochLog } from './fit';
import { earnsItsPlace, keepMargin } from './fine-tune-gate';
import type { TrainingCallback, TrainingLoop } from './training-callback';
import { TrainingHistory } from './training-history';

/** Epochs in a row without a new best lead over the head-only model after which fine-tuning that has not earned its place stops. */
export const abandonPatience = 2;

type Paired = NonNullable<EpochLog['versusReference']>;

/** c - b: how many more validation images the fine-tuned network gets right than the head-only model. */
const lead = ({ onlyReferenceRight: b, onlyThisRight: c }: Paired) => c - b;

/**
 * Whether fine-tuning should stop because it is no longer on its way to earning its place: no epoch
 * so far would pass the gate (fineTuneGate's paired rule), and its lead over the head-only model
 * (c - b on the same validation images) has not reached a new best for `abandonPatience` epochs.
 * Fine-tuning starts from the head-only model, so a phase that has stopped gaining on it without
 * passing it would spend its remaining epochs only to be dropped. Returns why it stops, or undefined.
 */
export function abandonReason(epochs: Paired[]): string | undefined {
  if (epochs.length <= abandonPatience || epochs.some(earnsItsPlace)) return undefined;
  const leads = epochs.map(lead);
  const best = Math.max(...leads.slice(0, -abandonPatience));
  if (leads.slice(-abandonPatience).some((value) => value > best)) return undefined;
  const signed = (value: number) => `${value >= 0 ? '+' : ''}${value}`;
  return (
    `no epoch beat the head-only model by more than ${keepMargin} standard error, and the last ${abandonPatience} epochs did not ` +
    `improve on its best lead of ${signed(best)} images (c - b per epoch: ${leads.map(signed).join(', ')})`
  );
}

/**
 * Stops the fine-tuning phase once it is no longer on its way to earning its place (abandonReason),
 * reading the paired counts the fit records in its own history (FitOptions.validationReference), so
 * a resumed phase judges its earlier epochs too. What it stopped for is in `abandoned`; the
 * keep-or-drop step then puts the head-only model back.
 */
export class EarlyAbandon implements TrainingCallback {
  abandoned: { epoch: number; reason: string } | undefined;

  onEpochEnd(log: EpochLog, loop: TrainingLoop): void {
    const epochs = loop.callbacks.find(TrainingHistory)?.epochs ?? [log];
    const reason = abandonReason(epochs.map((epoch) => epoch.versusReference).filter((paired): paired is Paired => paired !== undefined));
    if (!reason) return;
    this.abandoned = { epoch: log.epoch, reason };
    loop.stopTraining = true;
  }
}
