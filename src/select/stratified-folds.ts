import { seededRandom } from '../train/seeded-random';

/**
 * The fold of each sample for k-fold cross-validation: stratified and stable for a seed. Each
 * class's samples are shuffled (seeded) and dealt round-robin over the folds, continuing where
 * the previous class stopped, so fold sizes differ by at most one and every class is spread
 * evenly. A class with fewer samples than folds lands in as many different folds as it has
 * samples (each fold's training part keeps the rest of it); k is capped at the number of samples.
 */
export function stratifiedFolds(labels: ArrayLike<number>, numClasses: number, folds: number, seed: number): number[] {
  const n = labels.length;
  if (!(Number.isInteger(folds) && folds >= 2)) throw new RangeError(`stratifiedFolds: folds must be an integer >= 2, got ${folds}`);
  const k = Math.min(folds, n);
  const random = seededRandom(seed);
  const members: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < n; i++) {
    const label = labels[i];
    if (!(Number.isInteger(label) && label >= 0 && label < numClasses)) {
      throw new RangeError(`stratifiedFolds: label ${label} of sample ${i} is not a class index in [0, ${numClasses})`);
    }
    members[label].push(i);
  }
  const foldOf = new Array<number>(n).fill(0);
  let next = 0;
  for (const list of members) {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [list[i], list[j]] = [list[j], list[i]];
    }
    for (const index of list) {
      foldOf[index] = next;
      next = (next + 1) % k;
    }
  }
  return foldOf;
}

/** Indices of the samples in `fold` (held out) and of the others (trained on). */
export function foldParts(foldOf: number[], fold: number): { train: number[]; heldOut: number[] } {
  const train: number[] = [];
  const heldOut: number[] = [];
  foldOf.forEach((f, i) => (f === fold ? heldOut : train).push(i));
  return { train, heldOut };
}

/** Number of folds actually used (k capped at the samples). */
export function foldCount(foldOf: number[]): number {
  return foldOf.reduce((max, f) => Math.max(max, f + 1), 0);
}
