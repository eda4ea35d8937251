import fs from 'node:fs/promises';
import pLimit from 'p-limit';
import sharp, { type Metadata } from 'sharp';
import type { ImageRecord } from '../data/dataset';

/** What a file is made of, before the decoder turns it into model-ready RGB. */
export interface ImageFingerprint {
  path: string;
  label: string;
  sha256: string;
  width: number;
  height: number;
  /** Colour model as stored: grayscale, grayscale+alpha, rgb, rgba, cmyk, ... */
  mode: string;
  /** Difference hash of the 17x16 grayscale thumbnail: 256 bits, one per horizontally adjacent pixel pair. */
  hash: Uint32Array;
}

const hashWidth = 17;
const hashHeight = 16;
export const hashBits = (hashWidth - 1) * hashHeight;

function colourMode(metadata: Metadata): string {
  const alpha = metadata.hasAlpha ? '+alpha' : '';
  if (metadata.space === 'b-w' || metadata.space === 'grey16') return `grayscale${alpha}`;
  if (metadata.space === 'cmyk') return `cmyk${alpha}`;
  if (metadata.space === 'srgb' || metadata.space === 'rgb16') return metadata.hasAlpha ? 'rgba' : 'rgb';
  return `${metadata.space ?? 'unknown'}${alpha}`;
}

/**
 * A difference hash: each bit says whether a pixel of the small grayscale thumbnail is brighter
 * than its right neighbour. Re-encoding, rescaling and brightness changes leave it (nearly) unchanged.
 */
async function differenceHash(bytes: Buffer): Promise<Uint32Array> {
  const pixels = await sharp(bytes, { pages: 1 }).rotate().flatten({ background: { r: 0, g: 0, b: 0 } }).greyscale()
    .resize(hashWidth, hashHeight, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  const hash = new Uint32Array(hashBits / 32);
  let bit = 0;
  for (let y = 0; y < hashHeight; y++) {
    for (let x = 0; x < hashWidth - 1; x++, bit++) {
      if (pixels[y * hashWidth + x] > pixels[y * hashWidth + x + 1]) hash[bit >> 5] |= 1 << (bit & 31);
    }
  }
  return hash;
}

/** Number of differing bits. */
export function hammingDistance(a: Uint32Array, b: Uint32Array): number {
  let distance = 0;
  for (let i = 0; i < a.length; i++) {
    let v = a[i] ^ b[i];
    v -= (v >>> 1) & 0x55555555;
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
    distance += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
  }
  return distance;
}

/** Reads every usable image once more for what the loader does not keep: stored size, colour model, perceptual hash. */
export async function fingerprintImages(records: ImageRecord[], concurrency: number): Promise<ImageFingerprint[]> {
  const limit = pLimit(concurrency);
  return Promise.all(
    records.map((record) =>
      limit(async () => {
        const bytes = await fs.readFile(record.path);
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
          hash: await differenceHash(bytes),
        };
      }),
    ),
  );
}
