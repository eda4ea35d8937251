import { passed, type CheckResult } from './check-result';
import type { DoctorCheck } from './doctor-inputs';
import { hammingDistance, hashBits, type ImageFingerprint } from './image-fingerprint';

const name = 'data.duplicates-across-classes';
/** Difference hashes at most this many bits apart (of 256) count as the same picture. */
export const nearDuplicateBits = 12;
/** Above this share of images in contradicting pairs, the labels are too noisy to learn from. */
export const failShare = 0.05;
const listed = 10;

/**
 * Images that appear under two different labels: identical files (same SHA-256) or the same
 * picture re-encoded, resized or re-toned (difference hashes a few bits apart). Each such pair
 * teaches the model two answers for one input.
 */
export function checkDuplicatesAcrossClasses(fingerprints: ImageFingerprint[], maxBits = nearDuplicateBits): CheckResult {
  const exact: { a: string; b: string; labels: [string, string] }[] = [];
  const near: { a: string; b: string; labels: [string, string]; distance: number }[] = [];
  const involved = new Set<string>();
  for (let i = 0; i < fingerprints.length; i++) {
    const a = fingerprints[i];
    for (let j = i + 1; j < fingerprints.length; j++) {
      const b = fingerprints[j];
      if (a.label === b.label) continue;
      if (a.sha256 === b.sha256) exact.push({ a: a.path, b: b.path, labels: [a.label, b.label] });
      else {
        const distance = hammingDistance(a.hash, b.hash);
        if (distance > maxBits) continue;
        near.push({ a: a.path, b: b.path, labels: [a.label, b.label], distance });
      }
      involved.add(a.path).add(b.path);
    }
  }
  const share = involved.size / Math.max(fingerprints.length, 1);
  const measured = {
    images: fingerprints.length,
    exactPairs: exact.length,
    nearPairs: near.length,
    imagesInvolved: involved.size,
    share,
    nearThresholdBits: maxBits,
    hashBits,
    examples: [...exact, ...near.sort((x, y) => x.distance - y.distance)].slice(0, listed),
  };
  if (involved.size === 0) {
    return passed(name, `no image of ${fingerprints.length} appears under two labels (exact bytes or difference hash within ${maxBits}/${hashBits} bits)`, measured);
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
