import { createHash } from 'node:crypto';
import { augmentImage, describeAugmentation, viewParameters, type AugmentationSettings } from './augmentation';
import type { DecodedImage, DecodeOptions, ImageDecoder } from './image-decoder';

/** Decodes as `decoder` does, then draws augmented view number `view` of the image. */
export class AugmentingDecoder implements ImageDecoder {
  constructor(
    private readonly decoder: ImageDecoder,
    private readonly settings: AugmentationSettings,
    private readonly view: number,
  ) {}

  async decode(input: Buffer, options: DecodeOptions): Promise<DecodedImage> {
    const decoded = await this.decoder.decode(input, options);
    const sha256 = createHash('sha256').update(input).digest('hex');
    return augmentImage(decoded, viewParameters(sha256, this.view, this.settings));
  }

  describe(options: DecodeOptions): string {
    return `${this.decoder.describe(options)} ${describeAugmentation(this.settings, this.view)}`;
  }
}
