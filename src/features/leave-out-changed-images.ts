import type { Dataset, ImageRecord } from '../data/dataset';
import type { ExtractedFeatures } from './extract-features';

/**
 * Takes the images extraction skipped (changed since they were checked) out of the dataset's splits
 * and lists them in dataset.skipped; returns the extraction with their (empty) places removed, so that
 * features line up with [...train, ...val, ...test] again. `extracted` covers those splits in that order.
 */
export function leaveOutChangedImages(dataset: Dataset, extracted: ExtractedFeatures): ExtractedFeatures {
  if (extracted.skipped.length === 0) return extracted;
  const all = [...dataset.train, ...dataset.val, ...dataset.test];
  const gone = new Set<ImageRecord>(extracted.skipped.map((entry) => all[entry.index]));
  for (const entry of extracted.skipped) dataset.skipped.push({ path: entry.path, reason: entry.reason });
  dataset.train = dataset.train.filter((record) => !gone.has(record));
  dataset.val = dataset.val.filter((record) => !gone.has(record));
  dataset.test = dataset.test.filter((record) => !gone.has(record));
  return { ...extracted, features: extracted.features.filter((_, index) => !gone.has(all[index])), skipped: [] };
}
