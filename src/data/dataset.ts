export type SplitName = 'train' | 'val' | 'test';

/** An image file found in a class folder. */
export interface ImageFile {
  path: string;
  label: string;
  /** Set when the data folder gives its own split (DIR/{train,val,test}/<class>/*). */
  givenSplit?: SplitName;
}

/** An image file that decoded, identified by the SHA-256 of its bytes. */
export interface ImageRecord extends ImageFile {
  sha256: string;
}

/** A file left out, and why. */
export interface SkippedFile {
  path: string;
  reason: string;
}

export interface Dataset {
  root: string;
  layout: 'folders' | 'split-folders';
  /** Class names in output order (sorted). */
  labels: string[];
  train: ImageRecord[];
  val: ImageRecord[];
  test: ImageRecord[];
  skipped: SkippedFile[];
  /** What the user should know about the data that did not stop the run (e.g. a class left out). */
  warnings: string[];
}

export function countByLabel(records: { label: string }[], labels: string[]): Record<string, number> {
  const counts = Object.fromEntries(labels.map((label) => [label, 0]));
  for (const record of records) counts[record.label] = (counts[record.label] ?? 0) + 1;
  return counts;
}
