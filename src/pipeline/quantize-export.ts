import * as tf from '@tensorflow/tfjs';
import type { ExportMetadata, ExportQuantization } from '../export/export-metadata';
import { loadExportModel } from '../export/load-export';
import { quantizeModelFiles } from '../export/quantize-weights';
import type { ImageDecoder } from '../preprocess/image-decoder';
import { argMax, classifyImages } from './classify-images';

export interface QuantizeExportArgs {
  dtype: 'float16' | 'uint8';
  input: ExportMetadata['input'];
  /** Validation images and their label indices: the quantized files are scored on them. */
  images: { path: string; label: number }[];
  /** Accuracy of the float32 model on the same images. */
  float32Accuracy: number;
  decoder: ImageDecoder;
  maxInputPixels: number;
  concurrency: number;
  batchSize: number;
}

/**
 * Quantizes the weights of a written export folder, reloads it from disk and measures its accuracy
 * on the validation images, decoded as predict and serve decode them.
 */
export async function quantizeExport(dir: string, args: QuantizeExportArgs): Promise<ExportQuantization> {
  const size = quantizeModelFiles(dir, args.dtype);
  const model = await loadExportModel(dir);
  try {
    const predict = (pixels: tf.Tensor4D) => model.predict(pixels) as tf.Tensor2D;
    const results = await classifyImages({ predict, metadata: { input: args.input } }, args.images.map((image) => image.path), args.decoder, args);
    let correct = 0;
    let n = 0;
    results.forEach((result, i) => {
      if (!result.probabilities) return;
      n += 1;
      if (argMax(result.probabilities) === args.images[i].label) correct += 1;
    });
    const quantized = n > 0 ? correct / n : 0;
    return {
      dtype: args.dtype,
      bytes: { float32: size.float32Bytes, quantized: size.quantizedBytes, ratio: size.quantizedBytes / size.float32Bytes },
      accuracy: { float32: args.float32Accuracy, quantized, change: quantized - args.float32Accuracy, n },
    };
  } finally {
    model.dispose();
  }
}
