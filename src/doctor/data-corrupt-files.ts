import type { SkippedFile } from '../data/dataset';
import { passed, type CheckResult } from './check-result';
import type { DoctorCheck } from './doctor-inputs';

const name = 'data.corrupt-files';
/** Above this share of unusable files the folder is more likely broken (a bad copy, a wrong folder) than a few bad images. */
export const failShare = 0.25;
const listed = 5;

/** Reasons the loader gives for files it leaves out on purpose, not because they are broken. */
const duplicateReason = /^(duplicate of |same bytes as training image )/;
const placementReason = /(outside a class folder|nested folder inside a class folder|not one of train\/, val\/, test\/)/;

/** Files the loader skipped because they could not be read or decoded (it already leaves them out of training). */
export function checkCorruptFiles(skipped: SkippedFile[], usable: number): CheckResult {
  const corrupt = skipped.filter((s) => !duplicateReason.test(s.reason) && !placementReason.test(s.reason));
  const misplaced = skipped.filter((s) => placementReason.test(s.reason));
  const files = usable + corrupt.length;
  const share = corrupt.length / Math.max(files, 1);
  const measured = {
    files,
    corrupt: corrupt.length,
    share,
    examples: corrupt.slice(0, listed),
    misplaced: misplaced.length,
    misplacedExamples: misplaced.slice(0, listed),
  };
  if (corrupt.length === 0 && misplaced.length === 0) return passed(name, `all ${files} image files decode`, measured);
  const examples = corrupt
    .slice(0, listed)
    .map((s) => `${s.path} (${s.reason})`)
    .join('; ');
  if (corrupt.length === 0) {
    return {
      name,
      status: 'warn',
      detail: `all ${files} image files decode, but ${misplaced.length} file(s) sit where no class is read from, e.g. ${misplaced[0].path} (${misplaced[0].reason})`,
      fix: 'move each image into DIR/<class>/ (or DIR/{train,val,test}/<class>/), or delete the stray files',
      measured,
    };
  }
  return {
    name,
    status: share > failShare ? 'fail' : 'warn',
    detail: `${corrupt.length} of ${files} files (${(100 * share).toFixed(1)}%) cannot be read or decoded and are left out of training: ${examples}`,
    fix:
      share > failShare
        ? 'more than a quarter of the files are unusable: check that the folder was copied completely and holds images (JPEG, PNG, WebP, GIF, TIFF, AVIF); re-export or delete the broken files'
        : 'delete or re-export the listed files (they are skipped; training goes on without them)',
    measured,
  };
}

export const corruptFilesCheck: DoctorCheck = {
  name,
  run: async ({ dataset }) => checkCorruptFiles(dataset.skipped, dataset.train.length + dataset.val.length + dataset.test.length),
};
