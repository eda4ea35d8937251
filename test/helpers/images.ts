/**
 * Shared helpers for tests that need real image files: fresh temp folders and small images
 * rendered with sharp at test time (no binary fixtures in the repository).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';

export type Rgb = readonly [number, number, number];

export const RED: Rgb = [255, 0, 0];
export const GREEN: Rgb = [0, 255, 0];
export const BLUE: Rgb = [0, 0, 255];
export const BLACK: Rgb = [0, 0, 0];
export const WHITE: Rgb = [255, 255, 255];

/** A fresh, empty folder under the OS temp dir; remove it with removeTempDir. */
export function makeTempDir(prefix = 'finetune-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes files below root (relative path -> contents), creating folders as needed. */
export function writeTree(root: string, files: Record<string, Buffer | string>): void {
  for (const [relative, contents] of Object.entries(files)) {
    const full = path.join(root, relative);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, contents);
  }
}

export function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** An 8-bit sRGB image whose pixel (x, y) is paint(x, y), as a sharp pipeline ready to encode. */
export function paintedImage(width: number, height: number, paint: (x: number, y: number) => Rgb): Sharp {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = paint(x, y);
      const i = (y * width + x) * 3;
      raw[i] = r;
      raw[i + 1] = g;
      raw[i + 2] = b;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } });
}

export function solidImage(width: number, height: number, colour: Rgb): Sharp {
  return paintedImage(width, height, () => colour);
}

/** Deterministic pseudo-random bytes (xorshift32), so that "random" inputs never make a test flaky. */
export function pseudoRandomBytes(length: number, seed = 1): Buffer {
  let state = seed >>> 0 || 0x9e3779b9;
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[i] = state & 0xff;
  }
  return out;
}

/** A square image of pseudo-random pixels; different seeds give different bytes (and hashes). */
export function noiseImage(size: number, seed: number): Sharp {
  return sharp(pseudoRandomBytes(size * size * 3, seed), { raw: { width: size, height: size, channels: 3 } });
}

/** A small PNG of pseudo-random pixels (8x8 unless told). */
export function noisePng(seed: number, size = 8): Promise<Buffer> {
  return noiseImage(size, seed).png().toBuffer();
}

/** A JPEG of pseudo-random pixels: noisy enough that cutting it in half ends inside the scan data. */
export function noiseJpeg(seed: number, size = 64): Promise<Buffer> {
  return noiseImage(size, seed).jpeg({ quality: 90 }).toBuffer();
}

/** The first half of a real JPEG's bytes. */
export async function truncatedJpeg(seed = 7): Promise<Buffer> {
  const whole = await noiseJpeg(seed);
  return whole.subarray(0, whole.length >> 1);
}

/** The RGB pixel at (x, y) of row-major HWC 3-channel data. */
export function pixelAt(image: { data: Uint8Array; width: number }, x: number, y: number): Rgb {
  const i = (y * image.width + x) * 3;
  return [image.data[i], image.data[i + 1], image.data[i + 2]];
}

export function assertColourNear(actual: Rgb, expected: Rgb, tolerance: number, what = 'pixel'): void {
  const off = actual.some((value, i) => Math.abs(value - expected[i]) > tolerance);
  assert.ok(!off, `${what}: got (${actual.join(', ')}), expected (${expected.join(', ')}) within ${tolerance}`);
}
