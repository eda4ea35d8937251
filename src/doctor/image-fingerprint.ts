import pLimit from 'p-limit';
import sharp, { type Metadata } from 'sharp';
import type { ImageRecord } from '../data/dataset';
import { readImageFile } from '../data/read-image-file';

/** What a file is made of, before the decoder turns it into model-ready RGB. */
export interface ImageFingerprint {
  path: string;
  label: string;
  sha256: string;
  width: number;
  height: number;
  /** Colour model as stored: grayscale, grayscale+alpha, rgb, rgba, cmyk, ... */
  mode: string;
  /** 16x16 grayscale thumbnail with zero mean and unit norm: the dot product of two is their correlation. */
  thumbnail: Float32Array;
}

export const thumbnailSide = 16;

function colourMode(metadata: Metadata): string {
  const alpha = metadata.hasAlpha ? '+alpha' : '';
  if (metadata.space === 'b-w' || metadata.space === 'grey16') return `grayscale${alpha}`;
  if (metadata.space === 'cmyk') return `cmyk${alpha}`;
  if (metadata.space === 'srgb' || metadata.space === 'rgb16') return metadata.hasAlpha ? 'rgba' : 'rgb';
  return `${metadata.space ?? 'unknown'}${alpha}`;
}

/**
 * A picture's shape at low resolution, independent of its size, encoding and brightness: re-encoded
 * or rescaled copies correlate above 0.98 with the original. (Bit hashes such as the difference hash
 * flip on the flat backgrounds of small images and were not reliable on Fashion-MNIST.)
 */
async function normalizedThumbnail(bytes: Buffer): Promise<Float32Array> {
  const pixels = await sharp(bytes, { pages: 1 })
    .rotate()
    .flatten({ background: { r: 0, g: 0, b: 0 } })
    .greyscale()
    .resize(thumbnailSide, thumbnailSide, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  const values = Float32Array.from(pixels.subarray(0, thumbnailSide * thumbnailSide));
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  let norm = 0;
  for (let i = 0; i < values.length; i++) {
    values[i] -= mean;
    norm += values[i] * values[i];
  }
  // A flat image has no shape to compare: it stays all zeros and correlates with nothing.
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  return values.map((v) => v * scale);
}

/** Reads every usable image once more for what the loader does not keep: stored size, colour model, normalized thumbnail. */
export async function fingerprintImages(records: ImageRecord[], concurrency: number): Promise<ImageFingerprint[]> {
  const limit = pLimit(concurrency);
  return Promise.all(
    records.map((record) =>
      limit(async () => {
        const bytes = await readImageFile(record.path);
        const metadata = await sharp(bytes, { pages: 1 }).metadata();
        // EXIF orientations 5-8 swap the sides.
        const swapped = (metadata.orientation ?? 1) >= 5;
        return {
          path: record.path,
          label: record.label,
          sha256: record.sha256,
          width: (swapped ? metadata.height : metadata.width) ?? 0,
          height: (swapped ? metadata.width : metadata.height) ?? 0,
          mode: colourMode(metadata),
          thumbnail: await normalizedThumbnail(bytes),
        };
      }),
    ),
  );
}
