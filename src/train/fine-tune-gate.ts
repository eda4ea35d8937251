import * as tf from '@tensorflow/tfjs';
import { pairedCounts, type EpochLog, type LabelledData, type TrainableNetwork } from './fit';
import { predictInBatches } from './predict-in-batches';

/**
 * Standard errors of the paired difference by which the fine-tuned network must beat the head-only
 * model on the same validation images to be kept. The fine-tuned weights are those of its best
 * validation-loss epoch, which already leans towards it, so a tie (or less) keeps the head-only model.
 */
export const keepMargin = 1;

export const fineTuneGateRule =
  `Fine-tuning must earn its place: it is kept only if, on the same validation images, its accuracy beats the head-only model's ` +
  `by more than ${keepMargin} standard error of the paired difference (sqrt(b + c) / n, where b images only the head-only model ` +
  'classifies right and c only the fine-tuned one); otherwise the head-only model is exported.';

/** The keep-or-drop decision on the fine-tuning phase, with the numbers it was made on. */
export interface FineTuneGate {
  kept: boolean;
  /** Validation images both models were scored on. */
  n: number;
  headOnlyAccuracy: number;
  fineTunedAccuracy: number;
  /** b: images only the head-only model classified right. */
  onlyHeadOnlyRight: number;
  /** c: images only the fine-tuned network classified right. */
  onlyFineTunedRight: number;
  /** fineTunedAccuracy - headOnlyAccuracy = (c - b) / n. */
  difference: number;
  /** sqrt(b + c) / n. */
  standardError: number;
  /** Set when the phase was stopped because it had clearly lost (see early-abandon.ts). */
  abandoned?: { epoch: number; reason: string };
  reason: string;
}

/** Whether each example's most probable class is its label; probabilities are [examples x classes] row-major. */
export function correctPredictions(probabilities: Float32Array, labels: number[]): boolean[] {
  const numClasses = probabilities.length / Math.max(labels.length, 1);
  return labels.map((label, i) => {
    const row = probabilities.subarray(i * numClasses, (i + 1) * numClasses);
    let best = 0;
    for (let k = 1; k < numClasses; k++) if (row[k] > row[best]) best = k;
    return best === label;
  });
}

const percent = (x: number) => (100 * x).toFixed(1);

/** The keep rule on paired counts: c - b > keepMargin * sqrt(b + c). */
export function earnsItsPlace({ onlyReferenceRight: b, onlyThisRight: c }: NonNullable<EpochLog['versusReference']>): boolean {
  return c - b > keepMargin * Math.sqrt(b + c);
}

/** The paired comparison: keep fine-tuning only when (c - b) / n > keepMargin * sqrt(b + c) / n. */
export function fineTuneGate(headOnlyCorrect: boolean[], fineTunedCorrect: boolean[], abandoned?: FineTuneGate['abandoned']): FineTuneGate {
  if (headOnlyCorrect.length !== fineTunedCorrect.length || headOnlyCorrect.length === 0) {
    throw new Error(`the gate compares both models on the same validation images; received ${headOnlyCorrect.length} and ${fineTunedCorrect.length}`);
  }
  const n = headOnlyCorrect.length;
  const { onlyReferenceRight: b, onlyThisRight: c } = pairedCounts(headOnlyCorrect, fineTunedCorrect);
  const headRight = headOnlyCorrect.filter(Boolean).length;
  const fineRight = fineTunedCorrect.filter(Boolean).length;
  const difference = (c - b) / n;
  const standardError = Math.sqrt(b + c) / n;
  const kept = !abandoned && earnsItsPlace({ onlyReferenceRight: b, onlyThisRight: c });
  const numbers =
    `validation accuracy ${percent(fineRight / n)}% fine-tuned vs ${percent(headRight / n)}% head-only on the same ${n} images ` +
    `(difference ${difference >= 0 ? '+' : ''}${percent(difference)} points, one standard error ${percent(standardError)}; b=${b}, c=${c})`;
  const reason = abandoned
    ? `Fine-tuning was abandoned after epoch ${abandoned.epoch + 1} (${abandoned.reason}); the head-only model is exported: ${numbers}.`
    : kept
      ? `Fine-tuning earned its place and is kept: ${numbers}.`
      : `Fine-tuning did not beat the head-only model by more than ${keepMargin} standard error, so the head-only model is exported: ${numbers}.`;
  return {
    kept,
    n,
    headOnlyAccuracy: headRight / n,
    fineTunedAccuracy: fineRight / n,
    onlyHeadOnlyRight: b,
    onlyFineTunedRight: c,
    difference,
    standardError,
    ...(abandoned ? { abandoned } : {}),
    reason,
  };
}

/**
 * The keep-or-drop step around the fine-tuning phase: keeps the head-only model's weights aside,
 * runs the phase (which reports whether it was abandoned), scores the fine-tuned network on the
 * validation images the head-only model was scored on, and puts the head-only model back unless
 * fine-tuning earned its place (fineTuneGate).
 */
export async function keepOrDropFineTuning(args: {
  network: TrainableNetwork;
  val: LabelledData;
  headOnlyCorrect: boolean[];
  evaluationBatchSize: number;
  fineTune: () => Promise<FineTuneGate['abandoned']>;
}): Promise<FineTuneGate> {
  const headOnly = args.network.weights.getWeights().map((w) => w.clone());
  try {
    const abandoned = await args.fineTune();
    const { values } = await predictInBatches(args.network.predict, args.val.x, args.evaluationBatchSize);
    const gate = fineTuneGate(args.headOnlyCorrect, correctPredictions(values, args.val.labels), abandoned);
    if (!gate.kept) args.network.weights.setWeights(headOnly);
    return gate;
  } finally {
    tf.dispose(headOnly);
  }
}
