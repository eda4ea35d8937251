import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { seededRandom } from '../train/seeded-random';
import type { DecodedImage } from './image-decoder';

/** What one augmented view may change. Every view is a pure function of (image, view, seed), so its features can be cached. */
export interface AugmentationSettings {
  /** Augmented views per training image, besides the image itself. */
  views: number;
  /** Random resized crop: smallest share of the image's area kept (1 = no crop). */
  minCropArea: number;
  flip: boolean;
  /** Rotation drawn from [-degrees, degrees]. */
  rotationDegrees: number;
  /** Brightness and contrast factors drawn from [1 - jitter, 1 + jitter]. */
  brightness: number;
  contrast: number;
  seed: number;
}

export interface ViewParameters {
  /** Crop in shares of the side: left, top, width, height. */
  crop: { left: number; top: number; width: number; height: number };
  flip: boolean;
  degrees: number;
  brightness: number;
  contrast: number;
}

const aspectRange: [number, number] = [3 / 4, 4 / 3];

/** The view's random draws, seeded by the image's content hash, the view number and the run's seed. */
export function viewParameters(imageSha256: string, view: number, settings: AugmentationSettings): ViewParameters {
  const digest = createHash('sha256').update(`${imageSha256}:${view}:${settings.seed}`).digest();
  const random = seededRandom(digest.readUInt32LE(0));
  const uniform = (low: number, high: number) => low + (high - low) * random();
  const area = uniform(settings.minCropArea, 1);
  const aspect = Math.exp(uniform(Math.log(aspectRange[0]), Math.log(aspectRange[1])));
  const width = Math.min(1, Math.sqrt(area * aspect));
  const height = Math.min(1, Math.sqrt(area / aspect));
  return {
    crop: { left: uniform(0, 1 - width), top: uniform(0, 1 - height), width, height },
    flip: settings.flip && random() < 0.5,
    degrees: uniform(-settings.rotationDegrees, settings.rotationDegrees),
    brightness: uniform(1 - settings.brightness, 1 + settings.brightness),
    contrast: uniform(1 - settings.contrast, 1 + settings.contrast),
  };
}

/**
 * One view of a decoded square image, at the same size: rotate (corners filled black, the canvas
 * cropped back to the original square), crop and resize back, flip, then brightness and contrast
 * around mid-grey.
 */
export async function augmentImage(image: DecodedImage, view: ViewParameters): Promise<DecodedImage> {
  const { width: side } = image;
  const raw = { width: image.width, height: image.height, channels: 3 as const };
  let pixels = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  if (view.degrees !== 0) {
    const rotated = await sharp(pixels, { raw }).rotate(view.degrees, { background: { r: 0, g: 0, b: 0 } }).raw().toBuffer({ resolveWithObject: true });
    const left = Math.floor((rotated.info.width - image.width) / 2);
    const top = Math.floor((rotated.info.height - image.height) / 2);
    pixels = await sharp(rotated.data, { raw: { width: rotated.info.width, height: rotated.info.height, channels: 3 } })
      .extract({ left, top, width: image.width, height: image.height })
      .raw()
      .toBuffer();
  }
  const crop = {
    left: Math.round(view.crop.left * image.width),
    top: Math.round(view.crop.top * image.height),
    width: Math.max(1, Math.round(view.crop.width * image.width)),
    height: Math.max(1, Math.round(view.crop.height * image.height)),
  };
  crop.width = Math.min(crop.width, image.width - crop.left);
  crop.height = Math.min(crop.height, image.height - crop.top);
  const scale = view.brightness * view.contrast;
  const offset = view.brightness * 128 * (1 - view.contrast);
  const { data, info } = await sharp(pixels, { raw })
    .extract(crop)
    .resize(side, image.height, { fit: 'fill', kernel: 'lanczos3' })
    .flop(view.flip)
    .linear(scale, offset)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/** The settings as recorded in cache keys and metadata. */
export function describeAugmentation(settings: AugmentationSettings, view: number): string {
  const { minCropArea, flip, rotationDegrees, brightness, contrast, seed } = settings;
  return `augment(view ${view}, seed ${seed}, crop>=${minCropArea}, flip ${flip}, rotate ${rotationDegrees}, brightness ${brightness}, contrast ${contrast})`;
}
