import * as tf from '@tensorflow/tfjs';
import { readValues } from '../backend/read-values';
import { passed, type CheckResult } from './check-result';
import type { DoctorCheck } from './doctor-inputs';
import { thumbnailSide, type ImageFingerprint } from './image-fingerprint';

const name = 'data.duplicates-across-classes';
/**
 * Thumbnails correlating at least this much show the same picture. Measured on the Fashion-MNIST
 * sample: JPEG re-encodings, 2-4x rescaling and brightness changes stay above 0.988; distinct
 * items of different classes stay below 0.95.
 */
export const nearDuplicateCorrelation = 0.98;
/** Rows of the correlation matrix computed at once. */
const blockRows = 512;
/** Above this share of images in contradicting pairs, the labels are too noisy to learn from. */
export const failShare = 0.05;
const listed = 10;

/**
 * Images that appear under two different labels: identical files (same SHA-256) or the same
 * picture re-encoded, resized or re-toned (correlated thumbnails). Each such pair teaches the model
 * two answers for one input.
 */
export function checkDuplicatesAcrossClasses(fingerprints: ImageFingerprint[], minCorrelation = nearDuplicateCorrelation): CheckResult {
  const exact: { a: string; b: string; labels: [string, string] }[] = [];
  const near: { a: string; b: string; labels: [string, string]; correlation: number }[] = [];
  const involved = new Set<string>();
  const n = fingerprints.length;
  const width = thumbnailSide * thumbnailSide;
  const flat = new Float32Array(n * width);
  fingerprints.forEach((f, i) => flat.set(f.thumbnail, i * width));
  const all = tf.tensor2d(flat, [n, width]);
  try {
    for (let start = 0; start < n; start += blockRows) {
      const rows = Math.min(blockRows, n - start);
      const correlations = readValues(() => tf.matMul(tf.slice(all, start, rows), all, false, true));
      for (let r = 0; r < rows; r++) {
        const i = start + r;
        const a = fingerprints[i];
        for (let j = i + 1; j < n; j++) {
          const b = fingerprints[j];
          if (a.label === b.label) continue;
          const correlation = correlations[r * n + j];
          if (a.sha256 === b.sha256) exact.push({ a: a.path, b: b.path, labels: [a.label, b.label] });
          else if (correlation >= minCorrelation) near.push({ a: a.path, b: b.path, labels: [a.label, b.label], correlation });
          else continue;
          involved.add(a.path).add(b.path);
        }
      }
    }
  } finally {
    all.dispose();
  }
  const share = involved.size / Math.max(fingerprints.length, 1);
  const measured = {
    images: fingerprints.length,
    exactPairs: exact.length,
    nearPairs: near.length,
    imagesInvolved: involved.size,
    share,
    nearCorrelation: minCorrelation,
    examples: [...exact, ...near.sort((x, y) => y.correlation - x.correlation)].slice(0, listed),
  };
  if (involved.size === 0) {
    return passed(name, `no image of ${fingerprints.length} appears under two labels (exact bytes, or thumbnails correlating ${minCorrelation} or more)`, measured);
  }
  const first = exact[0] ?? near[0];
  return {
    name,
    status: share > failShare ? 'fail' : 'warn',
    detail:
      `${exact.length} identical and ${near.length} near-identical image pair(s) carry different labels ` +
      `(${involved.size} images, ${(100 * share).toFixed(1)}%), e.g. ${first.a} (${first.labels[0]}) and ${first.b} (${first.labels[1]})`,
    fix: 'decide which label each listed picture really has and delete the other copy (measured.examples lists the pairs)',
    measured,
  };
}

export const duplicatesAcrossClassesCheck: DoctorCheck = { name, run: async ({ fingerprints }) => checkDuplicatesAcrossClasses(fingerprints) };
