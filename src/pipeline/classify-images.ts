import * as tf from '@tensorflow/tfjs';
import pLimit from 'p-limit';
import type { LoadedExport } from '../export/load-export';
import type { ExportMetadata } from '../export/export-metadata';
import type { DecodeOptions, ImageDecoder } from '../preprocess/image-decoder';
import { readImageFile } from '../data/read-image-file';

export interface Classified {
  file: string;
  probabilities?: number[];
  error?: string;
}

/** How an export's input contract decodes an image: the size and fit it was trained with. */
export function decodeOptionsFor(input: ExportMetadata['input'], maxInputPixels: number): DecodeOptions {
  return { size: input.height, fit: input.resize.fit, maxInputPixels };
}

/** One [N, size, size, 3] tensor of raw RGB [0, 255] from per-image HWC pixels. */
export function stackPixels(images: ArrayLike<number>[], size: number): tf.Tensor4D {
  const perImage = size * size * 3;
  const flat = new Float32Array(images.length * perImage);
  images.forEach((pixels, i) => flat.set(pixels, i * perImage));
  return tf.tensor4d(flat, [images.length, size, size, 3]);
}

/**
 * Probabilities for image files from an export, decoded exactly as training decoded them
 * (the export's metadata holds the size and fit). Files that do not decode get an error.
 */
export async function classifyImages(
  loaded: Pick<LoadedExport, 'predict'> & { metadata: Pick<ExportMetadata, 'input'> },
  files: string[],
  decoder: ImageDecoder,
  options: { maxInputPixels: number; concurrency: number; batchSize: number },
): Promise<Classified[]> {
  const { height } = loaded.metadata.input;
  const decodeOptions = decodeOptionsFor(loaded.metadata.input, options.maxInputPixels);
  const limit = pLimit(options.concurrency);
  const results: Classified[] = [];
  for (let start = 0; start < files.length; start += options.batchSize) {
    const batch = files.slice(start, start + options.batchSize);
    const decoded = await Promise.all(
      batch.map((file) =>
        limit(async () => {
          try {
            return { file, pixels: (await decoder.decode(await readImageFile(file), decodeOptions)).data };
          } catch (error) {
            return { file, error: (error as Error).message };
          }
        }),
      ),
    );
    const good = decoded.filter((d): d is { file: string; pixels: Uint8Array } => 'pixels' in d);
    let probabilities: number[][] = [];
    if (good.length > 0) {
      const output = tf.tidy(() => loaded.predict(stackPixels(good.map((d) => d.pixels), height)));
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
