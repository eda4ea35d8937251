import { injectable } from 'inversify';
import sharp from 'sharp';
import { DataError } from '../errors';
import type { DecodedImage, DecodeOptions, ImageDecoder } from './image-decoder';
import { SharedOrExclusive } from './shared-or-exclusive';

/**
 * sharp decoding: EXIF orientation applied, alpha flattened onto black, any colour model
 * (grayscale, CMYK, palette) converted to sRGB, then resized to a square with Lanczos3.
 */
@injectable()
export class SharpImageDecoder implements ImageDecoder {
  async decode(input: Buffer, options: DecodeOptions): Promise<DecodedImage> {
    if (input.length === 0) throw new DataError('empty file (0 bytes)');
    try {
      return await failuresTold.shared(() => decodeWithSharp(input, options));
    } catch {
      // libvips keeps one error buffer for the whole process, so decodes that fail at the same
      // time can read each other's message (or none). Decoded again alone, the error is this file's own.
      try {
        return await failuresTold.exclusive(() => decodeWithSharp(input, options));
      } catch (error) {
        throw new DataError(describeSharpError((error as Error).message, options));
      }
    }
  }

  describe(options: DecodeOptions): string {
    return `sharp ${sharp.versions.sharp} libvips ${sharp.versions.vips}: rotate(exif) flatten(black) srgb resize(${options.size}x${options.size}, ${options.fit}, lanczos3)`;
  }
}

/** Decodes run side by side; one that failed is decoded again with none beside it. */
const failuresTold = new SharedOrExclusive();

async function decodeWithSharp(input: Buffer, options: DecodeOptions): Promise<DecodedImage> {
  const { data, info } = await sharp(input, { limitInputPixels: options.maxInputPixels, failOn: 'truncated', pages: 1 })
    .rotate()
    .flatten({ background: { r: 0, g: 0, b: 0 } })
    .toColourspace('srgb')
    .resize(options.size, options.size, { fit: options.fit, position: 'centre', background: { r: 0, g: 0, b: 0 }, kernel: 'lanczos3' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), height: info.height, width: info.width };
}

function describeSharpError(message: string, options: DecodeOptions): string {
  if (/pixel limit/i.test(message)) {
    return `image is larger than the pixel limit of ${options.maxInputPixels} pixels (raise preprocess.maxInputPixels if it is genuine)`;
  }
  if (/unsupported image format/i.test(message)) return 'not an image in a supported format (JPEG, PNG, WebP, GIF, TIFF, AVIF)';
  // Kept in case a failure alone still comes without libvips' text.
  if (/^unknown error/i.test(message)) return 'cannot be decoded: the file is truncated or corrupt';
  return `cannot be decoded: ${message.split('\n')[0]}`;
}
