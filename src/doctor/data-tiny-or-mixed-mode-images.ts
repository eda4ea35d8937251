import { passed, type CheckResult } from './check-result';
import type { DoctorCheck } from './doctor-inputs';
import type { ImageFingerprint } from './image-fingerprint';

const name = 'data.tiny-or-mixed-mode-images';
/** Images whose shorter side is below inputSize / tinyFactor are blown up so much that the base sees mostly interpolation. */
export const tinyFactor = 4;
const listed = 5;

/** Images far smaller than the model input, and colour models mixed in one folder (e.g. grayscale among RGB). */
export function checkTinyOrMixedModeImages(fingerprints: ImageFingerprint[], inputSize: number): CheckResult {
  const minSide = inputSize / tinyFactor;
  const tiny = fingerprints.filter((f) => Math.min(f.width, f.height) < minSide);
  const modes: Record<string, number> = {};
  for (const f of fingerprints) modes[f.mode] = (modes[f.mode] ?? 0) + 1;
  const modeNames = Object.keys(modes).sort((a, b) => modes[b] - modes[a]);
  const smallestSide = Math.min(...fingerprints.map((f) => Math.min(f.width, f.height)));
  const measured = {
    images: fingerprints.length,
    inputSize,
    tinyBelow: minSide,
    tiny: tiny.length,
    smallestSide,
    tinyExamples: tiny.slice(0, listed).map((f) => ({ path: f.path, width: f.width, height: f.height })),
    modes,
    oddModeExamples: fingerprints.filter((f) => f.mode !== modeNames[0]).slice(0, listed).map((f) => ({ path: f.path, mode: f.mode })),
  };
  const problems: string[] = [];
  const fixes: string[] = [];
  if (tiny.length > 0) {
    problems.push(
      `${tiny.length} of ${fingerprints.length} images have a side below ${minSide} px (smallest ${smallestSide} px) and are upscaled more than ${tinyFactor}x to ${inputSize} px, e.g. ${tiny[0].path} (${tiny[0].width}x${tiny[0].height})`,
    );
    fixes.push(`use larger originals, or a smaller input (--image-size, e.g. ${Math.max(32, Math.ceil(smallestSide * tinyFactor / 32) * 32)}; a LayersModel base accepts other sizes)`);
  }
  if (modeNames.length > 1) {
    problems.push(`colour models are mixed: ${modeNames.map((m) => `${modes[m]} ${m}`).join(', ')}`);
    fixes.push(`convert the ${modeNames.slice(1).join(', ')} images to ${modeNames[0]} so that no class is told apart by its colour model (the decoder makes all of them RGB, but grayscale and alpha-flattened images still look different)`);
  }
  if (problems.length === 0) {
    return passed(name, `all ${fingerprints.length} images are at least ${minSide} px on their shorter side and ${modeNames[0] ?? 'of one colour model'}`, measured);
  }
  return { name, status: 'warn', detail: problems.join('; '), fix: fixes.join('; '), measured };
}

export const tinyOrMixedModeImagesCheck: DoctorCheck = { name, run: async ({ fingerprints, inputSize }) => checkTinyOrMixedModeImages(fingerprints, inputSize) };
