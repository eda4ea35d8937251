import type { interfaces } from 'inversify';

export type ResizeFit = 'cover' | 'contain';

export interface DecodeOptions {
  /** Side of the square output in pixels. */
  size: number;
  fit: ResizeFit;
  /** Images with more pixels than this are refused (decompression bombs). */
  maxInputPixels: number;
}

/** Raw sRGB pixels, row-major HWC, 3 channels, values 0..255. */
export interface DecodedImage {
  data: Uint8Array;
  height: number;
  width: number;
}

/** Turns an encoded image (any format, any colour model) into model-ready RGB pixels. */
export interface ImageDecoder {
  decode(input: Buffer, options: DecodeOptions): Promise<DecodedImage>;
  /** The decoder and its settings, as recorded in export metadata and feature-cache keys. */
  describe(options: DecodeOptions): string;
}
export const ImageDecoder: interfaces.ServiceIdentifier<ImageDecoder> = Symbol.for('finetune.ImageDecoder');
