import pLimit from 'p-limit';
import { DataError } from '../errors';
import { decodeOptionsFor } from '../pipeline/classify-images';
import type { ImageDecoder } from '../preprocess/image-decoder';
import { RequestError } from './request-error';
import type { ServedVersion } from './served-version';

/**
 * The server's image decoding: the training decoder (same resize, same pixels), under serving's own
 * pixel limit and at most `concurrency` images at once, so a burst of large images costs a bounded
 * amount of memory and leaves the cores to the model.
 */
export class LimitedDecoder {
  private readonly limit: pLimit.Limit;

  constructor(
    private readonly decoder: ImageDecoder,
    private readonly maxInputPixels: number,
    concurrency: number,
  ) {
    this.limit = pLimit(concurrency);
  }

  /** Decodes an encoded image (any format sharp reads) at the version's input size. */
  pixels(bytes: Uint8Array, where: string, served: ServedVersion): Promise<Uint8Array> {
    const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return this.limit(async () => {
      try {
        return (await this.decoder.decode(buffer, decodeOptionsFor(served.model.metadata.input, this.maxInputPixels))).data;
      } catch (error) {
        if (!(error instanceof DataError)) throw error;
        if (/pixel limit/.test(error.message)) {
          throw new RequestError(
            413,
            `${where}: image is larger than the pixel limit of ${this.maxInputPixels} pixels of this server (serve.maxInputPixels). Send it downscaled: the model takes ${served.size}x${served.size}.`,
          );
        }
        throw new RequestError(400, `${where}: ${error.message}. Expected an encoded image file.`);
      }
    });
  }
}
