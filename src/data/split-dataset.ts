import type { ImageRecord } from './dataset';

/** Position of an image in [0, 1), from its content hash: the same bytes always get the same place. */
export function hashPosition(sha256: string): number {
  return parseInt(sha256.slice(0, 13), 16) / 2 ** 52;
}

/**
 * Stable, stratified split by content hash. An image goes to validation exactly when its hash
 * position is below the fraction, so adding or removing other files never moves it, identical
 * bytes always land together, and every class gets the fraction in expectation. Stability wins
 * over forcing a validation image into every class: a small class may have none (callers report
 * it). The one exception keeps a class learnable: when all of a class's images fall below the
 * fraction, its highest-hash image stays in train.
 */
export function splitByContentHash(records: ImageRecord[], validationFraction: number): { train: ImageRecord[]; val: ImageRecord[] } {
  const valHashes = new Set(records.filter((r) => hashPosition(r.sha256) < validationFraction).map((r) => r.sha256));
  const byLabel = new Map<string, ImageRecord[]>();
  for (const record of records) byLabel.set(record.label, [...(byLabel.get(record.label) ?? []), record]);
  for (const members of byLabel.values()) {
    if (members.every((r) => valHashes.has(r.sha256))) {
      const highest = members.reduce((a, b) => (hashPosition(a.sha256) >= hashPosition(b.sha256) ? a : b));
      valHashes.delete(highest.sha256);
    }
  }
  const train: ImageRecord[] = [];
  const val: ImageRecord[] = [];
  for (const record of records) (valHashes.has(record.sha256) ? val : train).push(record);
  return { train, val };
}
