import pLimit from 'p-limit';
import sharp from 'sharp';
import { DataError } from '../errors';
import { decodeOptionsFor } from '../pipeline/classify-images';
import type { ImageDecoder } from '../preprocess/image-decoder';
import { RequestError } from './request-error';
import type { ServedVersion } from './served-version';
import type { WorkerPriority } from './thread-priority';

/** Images up to this many pixels (a 12-megapixel photo's thumbnail, any usual upload to a 224 model) skip the queue. */
const SMALL_IMAGE_PIXELS = 1_000_000;

/**
 * The server's image decoding: the training decoder (same resize, same pixels), under serving's own
 * pixel limit and, for images over SMALL_IMAGE_PIXELS, at most `concurrency` at once, so a burst of
 * large images costs a bounded amount of memory and leaves the cores to the model, while small
 * images never wait behind large ones. The size is read from the header first (cheap), so an image
 * over the limit is refused before it waits for anything.
 * After a large decode, libvips' threads (started by libvips at the priority of the thread answering
 * HTTP) are lowered like the inference and parse workers (`priority`): measured in the hostile load
 * test, that thread waited for a core longer than it ran, behind two 16 MP decodes and the other work.
 */
export class LimitedDecoder {
  private readonly limit: pLimit.Limit;

  constructor(
    private readonly decoder: ImageDecoder,
    private readonly maxInputPixels: number,
    concurrency: number,
    private readonly priority?: WorkerPriority,
  ) {
    this.limit = pLimit(concurrency);
  }

  /** Decodes an encoded image (any format sharp reads) at the version's input size. */
  async pixels(bytes: Uint8Array, where: string, served: ServedVersion): Promise<Uint8Array> {
    const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const pixels = await headerPixels(buffer);
    if (pixels > this.maxInputPixels) throw this.tooLarge(where, served);
    const decode = () => this.decode(buffer, where, served);
    return pixels <= SMALL_IMAGE_PIXELS ? decode() : this.limit(() => decode().finally(() => this.priority?.lowerThreadsNamed('libvips worker')));
  }

  private async decode(buffer: Buffer, where: string, served: ServedVersion): Promise<Uint8Array> {
    try {
      return (await this.decoder.decode(buffer, decodeOptionsFor(served.model.metadata.input, this.maxInputPixels))).data;
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      if (/pixel limit/.test(error.message)) throw this.tooLarge(where, served);
      throw new RequestError(400, `${where}: ${error.message}. Expected an encoded image file.`);
    }
  }

  private tooLarge(where: string, served: ServedVersion): RequestError {
    return new RequestError(
      413,
      `${where}: image is larger than the pixel limit of ${this.maxInputPixels} pixels of this server (serve.maxInputPixels). Send it downscaled: the model takes ${served.size}x${served.size}.`,
    );
  }
}

/** Width x height from the image's header; 0 when there is no readable header (the decoder then says why). */
async function headerPixels(buffer: Buffer): Promise<number> {
  try {
    const { width = 0, height = 0 } = await sharp(buffer, { limitInputPixels: false }).metadata();
    return width * height;
  } catch {
    return 0;
  }
}
