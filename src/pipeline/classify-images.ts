import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs/promises';
import pLimit from 'p-limit';
import type { LoadedExport } from '../export/load-export';
import type { ImageDecoder } from '../preprocess/image-decoder';

export interface Classified {
  file: string;
  probabilities?: number[];
  error?: string;
}

/**
 * Probabilities for image files from an export, decoded exactly as training decoded them
 * (the export's metadata holds the size and fit). Files that do not decode get an error.
 */
export async function classifyImages(
  loaded: LoadedExport,
  files: string[],
  decoder: ImageDecoder,
  options: { maxInputPixels: number; concurrency: number; batchSize: number },
): Promise<Classified[]> {
  const { height } = loaded.metadata.input;
  const decodeOptions = { size: height, fit: loaded.metadata.input.resize.fit, maxInputPixels: options.maxInputPixels };
  const limit = pLimit(options.concurrency);
  const results: Classified[] = [];
  for (let start = 0; start < files.length; start += options.batchSize) {
    const batch = files.slice(start, start + options.batchSize);
    const decoded = await Promise.all(
      batch.map((file) =>
        limit(async () => {
          try {
            return { file, pixels: (await decoder.decode(await fs.readFile(file), decodeOptions)).data };
          } catch (error) {
            return { file, error: (error as Error).message };
          }
        }),
      ),
    );
    const good = decoded.filter((d): d is { file: string; pixels: Uint8Array } => 'pixels' in d);
    let probabilities: number[][] = [];
    if (good.length > 0) {
      const flat = new Float32Array(good.length * height * height * 3);
      good.forEach((d, i) => flat.set(d.pixels, i * height * height * 3));
      const output = tf.tidy(() => loaded.predict(tf.tensor4d(flat, [good.length, height, height, 3])));
      try {
        probabilities = (await output.array()) as number[][];
      } finally {
        output.dispose();
      }
    }
    let next = 0;
    for (const d of decoded) results.push('pixels' in d ? { file: d.file, probabilities: probabilities[next++] } : { file: d.file, error: d.error });
  }
  return results;
}

export function argMax(values: number[]): number {
  return values.reduce((best, value, i) => (value > values[best] ? i : best), 0);
}
