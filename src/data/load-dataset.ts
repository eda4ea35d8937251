import path from 'node:path';
import { DataError } from '../errors';
import type { Progress } from '../progress';
import type { DecodeOptions, ImageDecoder } from '../preprocess/image-decoder';
import { countByLabel, type Dataset, type ImageRecord, type SkippedFile } from './dataset';
import { inspectImages } from './inspect-images';
import { scanFolder, type ClassFolder } from './scan-folder';
import { splitByContentHash } from './split-dataset';

export interface LoadDatasetOptions {
  validationFraction: number;
  minImagesPerClass: number;
  decode: Pick<DecodeOptions, 'fit' | 'maxInputPixels'> & { concurrency: number };
  /** Leave out a class folder without usable images, with a warning, instead of refusing the data folder. */
  skipEmptyClasses?: boolean;
  /** Content hashes already known to decode (e.g. present in the feature cache). */
  knownGood?: (sha256: string) => boolean;
  /** Shows files checked so far. */
  progress?: Progress;
}

/** Scans, checks and splits a data folder; refuses it when too few classes or images are usable. */
export async function loadDataset(root: string, decoder: ImageDecoder, options: LoadDatasetOptions): Promise<Dataset> {
  const scanned = scanFolder(root);
  const task = options.progress?.start('checking images', scanned.files.length, 'files');
  let inspected;
  try {
    inspected = await inspectImages(scanned.files, decoder, { ...options.decode, onInspected: (done) => task?.update(done) }, options.knownGood);
  } finally {
    task?.stop();
  }
  const skipped = [...scanned.skipped, ...inspected.skipped];
  const given = (split: string) => inspected.records.filter((r) => r.givenSplit === split);
  const trainPool = scanned.layout === 'split-folders' ? given('train') : inspected.records;
  const warnings: string[] = [];
  const trainFolders = scanned.classFolders.filter((folder) => folder.givenSplit === (scanned.layout === 'split-folders' ? 'train' : undefined));
  const usable = new Set(trainPool.map((r) => r.label));
  const empty = trainFolders.filter((folder) => !usable.has(folder.label));
  if (empty.length > 0) {
    const described = empty.map((folder) => describeEmptyClass(folder, skipped)).join('; ');
    if (!options.skipEmptyClasses) {
      throw new DataError(
        `Class folder${empty.length > 1 ? 's' : ''} without usable images: ${described}. Expected at least ${options.minImagesPerClass} images per class. ` +
          'Add images, remove the folder, or set data.skipEmptyClasses (--skip-empty-classes) to train without it.',
      );
    }
    warnings.push(`left out class${empty.length > 1 ? 'es' : ''} without usable images (data.skipEmptyClasses): ${described}`);
  }
  const labels = [...usable].sort();

  if (labels.length < 2) {
    throw new DataError(
      `Data folder ${root} has ${labels.length} class${labels.length === 1 ? ` (${labels[0]})` : 'es'} with usable images` +
        `${skipped.length ? ` (${skipped.length} files skipped)` : ''}. Expected at least 2 class folders, e.g. ${root}/cats/ and ${root}/dogs/.`,
    );
  }
  const counts = countByLabel(trainPool, labels);
  const small = labels.filter((label) => counts[label] < options.minImagesPerClass);
  if (small.length > 0) {
    throw new DataError(
      `Class${small.length > 1 ? 'es' : ''} ${small.map((l) => `${l} (${counts[l]} usable images)`).join(', ')} ` +
        `below the minimum of ${options.minImagesPerClass} images per class. Add images, remove the class folder, ` +
        'or lower data.minImagesPerClass.',
    );
  }

  let train: ImageRecord[];
  let val: ImageRecord[];
  let givenTest: ImageRecord[] = [];
  if (scanned.layout === 'split-folders') {
    const unknown = inspected.records.filter((r) => !labels.includes(r.label));
    if (unknown.length > 0) {
      const names = [...new Set(unknown.map((r) => `${r.givenSplit}/${r.label}`))];
      throw new DataError(`Class folder${names.length > 1 ? 's' : ''} ${names.join(', ')} ha${names.length > 1 ? 've' : 's'} no train/ counterpart. Expected the same class folders under train/ as under val/ and test/.`);
    }
    // An image must not be scored in a split it was trained on: copies of training images leave val/ and test/.
    const trainPaths = new Map(trainPool.map((r) => [r.sha256, r.path]));
    const leaks = (record: ImageRecord) => trainPaths.has(record.sha256);
    for (const split of ['val', 'test'] as const) {
      for (const record of given(split).filter(leaks)) {
        skipped.push({ path: record.path, reason: `same bytes as training image ${trainPaths.get(record.sha256)}; left out of ${split}/` });
      }
    }
    givenTest = given('test').filter((r) => !leaks(r));
    if (given('val').length > 0) {
      train = trainPool;
      val = given('val').filter((r) => !leaks(r));
    } else {
      ({ train, val } = splitByContentHash(trainPool, options.validationFraction));
    }
  } else {
    ({ train, val } = splitByContentHash(trainPool, options.validationFraction));
  }
  return { root, layout: scanned.layout, labels, train, val, test: givenTest, skipped, warnings };
}

/** "cats (/data/cats: empty)" or "cats (/data/cats: 3 files skipped, e.g. a.jpg: cannot be decoded)". */
function describeEmptyClass(folder: ClassFolder, skipped: SkippedFile[]): string {
  const inside = skipped.filter((entry) => path.dirname(entry.path) === folder.path);
  if (inside.length === 0) return `${folder.label} (${folder.path}: empty)`;
  return `${folder.label} (${folder.path}: ${inside.length} file${inside.length > 1 ? 's' : ''} skipped, e.g. ${path.basename(inside[0].path)}: ${inside[0].reason})`;
}
