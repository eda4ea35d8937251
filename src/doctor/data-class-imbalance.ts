import { countByLabel } from '../data/dataset';
import { passed, type CheckResult } from './check-result';
import type { DoctorCheck } from './doctor-inputs';

const name = 'data.class-imbalance';
/** Largest class over smallest class at which training starts to favour the large classes. */
export const warnRatio = 3;
/** ...and at which the head mostly learns to predict the largest class. */
export const failRatio = 10;

/** Usable images per class, largest over smallest. */
export function checkClassImbalance(counts: Record<string, number>): CheckResult {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  const [largest, smallest] = [entries[0], entries[entries.length - 1]];
  const ratio = largest[1] / Math.max(smallest[1], 1);
  const measured = { counts, largest: largest[0], smallest: smallest[0], ratio, warnRatio, failRatio };
  const summary = `largest class ${largest[0]} has ${largest[1]} images, smallest ${smallest[0]} has ${smallest[1]} (ratio ${ratio.toFixed(1)})`;
  if (ratio < warnRatio) return passed(name, summary, measured);
  return {
    name,
    status: ratio >= failRatio ? 'fail' : 'warn',
    detail: `${summary}: ${ratio >= failRatio ? `at ${failRatio}:1 or more` : `above ${warnRatio}:1`} the model learns to favour the large classes`,
    fix: `add images to ${entries.filter(([, n]) => n * warnRatio <= largest[1]).map(([label]) => label).join(', ')}, or subsample ${largest[0]}, or weight classes by inverse frequency`,
    measured,
  };
}

export const classImbalanceCheck: DoctorCheck = {
  name,
  run: async ({ dataset }) => checkClassImbalance(countByLabel([...dataset.train, ...dataset.val, ...dataset.test], dataset.labels)),
};
