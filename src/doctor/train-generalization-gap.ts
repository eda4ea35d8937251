import { passed, type CheckResult } from './check-result';
import type { DoctorCheck } from './doctor-inputs';
import type { ShortRun } from './short-run';

const name = 'train.generalization-gap';
/** Training accuracy above validation accuracy by more than this (and more than twice the gap's standard error): the head memorizes rather than generalizes. */
export const warnAccuracyGap = 0.1;

/**
 * After a short run: training against validation accuracy and loss at the weights early stopping
 * keeps, and validation loss rising while training loss falls over the epochs (which the restored
 * best weights hide).
 */
export function checkGeneralizationGap(run: ShortRun): CheckResult {
  if (!run.val) {
    return {
      name,
      status: 'warn',
      detail: 'no validation images: the gap between training and validation cannot be measured',
      fix: 'add images, give a val/ split, or raise data.validationFraction',
      measured: { train: run.train, epochs: run.epochs },
    };
  }
  const accuracyGap = run.train.accuracy - run.val.accuracy;
  // On a few validation images one mistake moves accuracy by several points: the gap must also exceed twice its standard error.
  const valImages = run.probabilities.length;
  const noise = 2 * Math.sqrt((run.val.accuracy * (1 - run.val.accuracy)) / Math.max(valImages, 1));
  const threshold = Math.max(warnAccuracyGap, noise);
  const lossGap = run.val.loss - run.train.loss;
  const valLosses = run.history.map((log) => log.valLoss ?? NaN);
  const bestValEpoch = valLosses.reduce((b, loss, i) => (loss < valLosses[b] ? i : b), 0);
  const last = run.history.length - 1;
  const valRising = last - bestValEpoch >= 2 && run.history[last].loss < run.history[bestValEpoch].loss;
  const lastEpoch = { trainLoss: run.history[last].loss, trainAccuracy: run.history[last].accuracy, valLoss: run.history[last].valLoss, valAccuracy: run.history[last].valAccuracy };
  const measured = { epochs: run.epochs, train: run.train, val: run.val, accuracyGap, lossGap, bestValEpoch, lastEpoch, valLossRisingWhileTrainFalls: valRising, valImages, warnAccuracyGap, threshold };
  const summary =
    `after ${run.epochs} epochs: training accuracy ${run.train.accuracy.toFixed(3)} (loss ${run.train.loss.toFixed(3)}), ` +
    `validation ${run.val.accuracy.toFixed(3)} (loss ${run.val.loss.toFixed(3)}), gap ${(100 * accuracyGap).toFixed(1)} points`;
  if (accuracyGap <= threshold && !valRising) return passed(name, summary, measured);
  return {
    name,
    status: 'warn',
    detail: `${summary}${valRising ? `; validation loss rose after epoch ${bestValEpoch + 1} while training loss kept falling` : ''}: the head overfits`,
    fix: 'more data (or augmentation), more dropout (--dropout), fewer epochs or a smaller --patience (early stopping keeps the best epoch), or a smaller head (--hidden-units 0)',
    measured,
  };
}

export const generalizationGapCheck: DoctorCheck = { name, run: async ({ shortRun }) => checkGeneralizationGap(await shortRun()) };
