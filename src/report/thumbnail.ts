import sharp from 'sharp';

/** Side of a thumbnail in the report, in pixels. */
export const thumbnailSize = 64;

/**
 * A small JPEG of an image as a data: URI, so the report needs no other file. Undefined when
 * the file cannot be read or decoded (the report shows the name without a picture).
 */
export async function thumbnailDataUri(file: string, size = thumbnailSize): Promise<string | undefined> {
  try {
    const jpeg = await sharp(file, { limitInputPixels: 2 ** 28 })
      .rotate()
      .resize(size, size, { fit: 'cover' })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 70 })
      .toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch {
    return undefined;
  }
}
