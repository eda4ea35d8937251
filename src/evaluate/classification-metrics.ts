export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  accuracy: number;
  n: number;
  labels: string[];
  /** confusion[true][predicted] */
  confusion: number[][];
  perClass: Record<string, ClassMetrics>;
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** Accuracy, confusion matrix (rows are the true class) and per-class precision, recall and F1. */
export function classificationReport(trueIndices: number[], predictedIndices: number[], labels: string[]): ClassificationReport {
  if (trueIndices.length !== predictedIndices.length) {
    throw new Error(`Received ${trueIndices.length} true labels and ${predictedIndices.length} predictions. Expected equal counts.`);
  }
  const outOfRange = [...trueIndices, ...predictedIndices].find((k) => !Number.isInteger(k) || k < 0 || k >= labels.length);
  if (outOfRange !== undefined) {
    throw new Error(`Received class index ${outOfRange}. Expected an integer from 0 to ${labels.length - 1} (${labels.length} labels).`);
  }
  const confusion = labels.map(() => labels.map(() => 0));
  trueIndices.forEach((t, i) => (confusion[t][predictedIndices[i]] += 1));
  const correct = labels.reduce((sum, _, k) => sum + confusion[k][k], 0);
  const perClass: Record<string, ClassMetrics> = {};
  labels.forEach((label, k) => {
    const support = confusion[k].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((sum, row) => sum + row[k], 0);
    const precision = ratio(confusion[k][k], predicted);
    const recall = ratio(confusion[k][k], support);
    perClass[label] = { precision, recall, f1: ratio(2 * precision * recall, precision + recall), support };
  });
  return { accuracy: ratio(correct, trueIndices.length), n: trueIndices.length, labels, confusion, perClass };
}
