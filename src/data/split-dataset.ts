import type { ImageRecord } from './dataset';

/** Position of an image in [0, 1), from its content hash: the same bytes always get the same place. */
export function hashPosition(sha256: string): number {
  return parseInt(sha256.slice(0, 13), 16) / 2 ** 52;
}

/**
 * Stable, stratified split by content hash. An image goes to validation when its hash
 * position is below the fraction, so adding or removing other files never moves it, and
 * identical bytes always land together. A class the threshold leaves without a validation
 * image gives up its lowest-hash image, so every class is measured.
 */
export function splitByContentHash(records: ImageRecord[], validationFraction: number): { train: ImageRecord[]; val: ImageRecord[] } {
  const train: ImageRecord[] = [];
  const val: ImageRecord[] = [];
  if (validationFraction <= 0) return { train: [...records], val };
  const byLabel = new Map<string, ImageRecord[]>();
  for (const record of records) byLabel.set(record.label, [...(byLabel.get(record.label) ?? []), record]);
  const valHashes = new Set(records.filter((r) => hashPosition(r.sha256) < validationFraction).map((r) => r.sha256));
  for (const members of byLabel.values()) {
    if (members.length >= 2 && !members.some((r) => valHashes.has(r.sha256))) {
      const lowest = members.reduce((a, b) => (hashPosition(a.sha256) <= hashPosition(b.sha256) ? a : b));
      valHashes.add(lowest.sha256);
    }
  }
  for (const record of records) (valHashes.has(record.sha256) ? val : train).push(record);
  return { train, val };
}
