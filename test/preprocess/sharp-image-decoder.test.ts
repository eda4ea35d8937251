import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp, { type Sharp } from 'sharp';
import { DataError } from '../../src/errors';
import type { DecodeOptions } from '../../src/preprocess/image-decoder';
import { SharpImageDecoder } from '../../src/preprocess/sharp-image-decoder';
import {
  assertColourNear,
  BLACK,
  BLUE,
  GREEN,
  paintedImage,
  pixelAt,
  pseudoRandomBytes,
  RED,
  solidImage,
  truncatedJpeg,
  WHITE,
  type Rgb,
} from '../helpers/images';

const decoder = new SharpImageDecoder();
const options = (overrides: Partial<DecodeOptions> = {}): DecodeOptions => ({ size: 12, fit: 'cover', maxInputPixels: 10_000_000, ...overrides });

/** Left half red, right half blue. */
const leftRedRightBlue = (width: number, height: number) => paintedImage(width, height, (x) => (x < width / 2 ? RED : BLUE));

/** Asserts that decoding rejects with a DataError (exit code 2) whose message matches every pattern. */
async function assertDataError(input: Buffer, decodeOptions: DecodeOptions, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(decoder.decode(input, decodeOptions), (error: unknown) => {
    assert.ok(error instanceof DataError, `expected a DataError, got ${String(error)}`);
    assert.equal(error.exitCode, 2);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

describe('SharpImageDecoder: formats', () => {
  const colour: Rgb = [200, 40, 60];
  const formats: { name: string; sharpFormat: string; encode: (image: Sharp) => Sharp }[] = [
    { name: 'JPEG', sharpFormat: 'jpeg', encode: (image) => image.jpeg({ quality: 95 }) },
    { name: 'PNG', sharpFormat: 'png', encode: (image) => image.png() },
    { name: 'WebP', sharpFormat: 'webp', encode: (image) => image.webp({ quality: 95 }) },
    { name: 'GIF', sharpFormat: 'gif', encode: (image) => image.gif() },
    { name: 'TIFF', sharpFormat: 'tiff', encode: (image) => image.tiff() },
    { name: 'AVIF', sharpFormat: 'heif', encode: (image) => image.avif({ quality: 90 }) },
  ];
  for (const { name, sharpFormat, encode } of formats) {
    test(`${name} decodes to size x size x 3 uint8 with its colour`, async () => {
      const bytes = await encode(solidImage(30, 18, colour)).toBuffer();
      assert.equal((await sharp(bytes).metadata()).format, sharpFormat, 'fixture is in the intended format');
      for (const size of [12, 7]) {
        const decoded = await decoder.decode(bytes, options({ size }));
        assert.ok(decoded.data instanceof Uint8Array);
        assert.equal(decoded.width, size);
        assert.equal(decoded.height, size);
        assert.equal(decoded.data.length, size * size * 3);
        assertColourNear(pixelAt(decoded, size >> 1, size >> 1), colour, 24, `${name} centre`);
        assertColourNear(pixelAt(decoded, 0, 0), colour, 24, `${name} corner`);
      }
    });
  }

  test('an animated GIF decodes its first frame only', async () => {
    const frames = Buffer.concat([Buffer.alloc(16 * 16 * 3, Buffer.from(RED)), Buffer.alloc(16 * 16 * 3, Buffer.from(BLUE))]);
    const gif = await sharp(frames, { raw: { width: 16, height: 32, channels: 3, pageHeight: 16 } }).gif().toBuffer();
    assert.equal((await sharp(gif).metadata()).pages, 2, 'fixture has two frames');
    const decoded = await decoder.decode(gif, options({ size: 8 }));
    assert.equal(decoded.data.length, 8 * 8 * 3);
    assertColourNear(pixelAt(decoded, 4, 1), RED, 10, 'top of first frame');
    assertColourNear(pixelAt(decoded, 4, 7), RED, 10, 'bottom of first frame');
  });
});

describe('SharpImageDecoder: EXIF orientation', () => {
  // A 40x20 image, left half red and right half blue, decoded with `contain` so the shape shows:
  // unrotated it would be a wide band (black bars top and bottom), rotated a tall one.
  const cases: { orientation: number; top: Rgb; bottom: Rgb }[] = [
    { orientation: 6, top: RED, bottom: BLUE }, // 90 degrees clockwise: the left edge becomes the top
    { orientation: 8, top: BLUE, bottom: RED }, // 90 degrees anticlockwise: the left edge becomes the bottom
  ];
  for (const { orientation, top, bottom } of cases) {
    test(`orientation ${orientation} is applied`, async () => {
      const jpeg = await leftRedRightBlue(40, 20).jpeg({ quality: 95 }).withMetadata({ orientation }).toBuffer();
      const meta = await sharp(jpeg).metadata();
      assert.equal(meta.orientation, orientation, 'fixture carries the EXIF orientation');
      assert.equal(meta.width, 40, 'fixture is stored wide');
      const decoded = await decoder.decode(jpeg, options({ size: 10, fit: 'contain' }));
      assertColourNear(pixelAt(decoded, 5, 1), top, 40, 'top centre');
      assertColourNear(pixelAt(decoded, 5, 8), bottom, 40, 'bottom centre');
      // Rotated to 20x40, contained in 10x10 it is 5 wide: black bars at the left and right edges.
      assertColourNear(pixelAt(decoded, 0, 5), BLACK, 10, 'left bar');
      assertColourNear(pixelAt(decoded, 9, 5), BLACK, 10, 'right bar');
    });
  }

  test('orientation 3 (180 degrees) swaps left and right', async () => {
    const jpeg = await leftRedRightBlue(40, 20).jpeg({ quality: 95 }).withMetadata({ orientation: 3 }).toBuffer();
    const decoded = await decoder.decode(jpeg, options({ size: 10, fit: 'cover' }));
    assertColourNear(pixelAt(decoded, 1, 5), BLUE, 40, 'left');
    assertColourNear(pixelAt(decoded, 8, 5), RED, 40, 'right');
  });

  test('without orientation the image stays as stored', async () => {
    const jpeg = await leftRedRightBlue(40, 20).jpeg({ quality: 95 }).toBuffer();
    const decoded = await decoder.decode(jpeg, options({ size: 10, fit: 'cover' }));
    assertColourNear(pixelAt(decoded, 1, 5), RED, 40, 'left');
    assertColourNear(pixelAt(decoded, 8, 5), BLUE, 40, 'right');
  });
});

describe('SharpImageDecoder: colour models to 3-channel sRGB', () => {
  async function decodeCentre(bytes: Buffer): Promise<Rgb> {
    const decoded = await decoder.decode(bytes, options({ size: 8 }));
    assert.equal(decoded.data.length, 8 * 8 * 3, '3 channels');
    return pixelAt(decoded, 4, 4);
  }

  test('a 1-channel grayscale PNG becomes equal R, G and B', async () => {
    const png = await solidImage(16, 16, [128, 128, 128]).toColourspace('b-w').png().toBuffer();
    assert.equal((await sharp(png).metadata()).channels, 1, 'fixture is single-channel');
    assertColourNear(await decodeCentre(png), [128, 128, 128], 2);
  });

  test('a grayscale JPEG becomes equal R, G and B', async () => {
    const jpeg = await solidImage(16, 16, [200, 200, 200]).toColourspace('b-w').jpeg().toBuffer();
    assert.equal((await sharp(jpeg).metadata()).channels, 1, 'fixture is single-channel');
    assertColourNear(await decodeCentre(jpeg), [200, 200, 200], 3);
  });

  test('a CMYK JPEG of pure red decodes to red', async () => {
    const jpeg = await solidImage(16, 16, RED).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    const meta = await sharp(jpeg).metadata();
    assert.equal(meta.space, 'cmyk', 'fixture is CMYK');
    assert.equal(meta.channels, 4);
    const [r, g, b] = await decodeCentre(jpeg);
    assert.ok(r >= 200 && g <= 40 && b <= 40, `CMYK red decoded to (${r}, ${g}, ${b})`);
  });

  test('a palette PNG keeps its colours', async () => {
    const png = await paintedImage(16, 16, (x) => (x < 8 ? RED : GREEN)).png({ palette: true }).toBuffer();
    assert.equal((await sharp(png).metadata()).isPalette, true, 'fixture is a palette PNG');
    const decoded = await decoder.decode(png, options({ size: 8 }));
    assertColourNear(pixelAt(decoded, 1, 4), RED, 3, 'left');
    assertColourNear(pixelAt(decoded, 6, 4), GREEN, 3, 'right');
  });

  test('a 16-bit PNG becomes 8-bit values', async () => {
    const png = await solidImage(16, 16, RED).toColourspace('rgb16').png().toBuffer();
    assert.equal((await sharp(png).metadata()).depth, 'ushort', 'fixture is 16-bit');
    assertColourNear(await decodeCentre(png), RED, 2);
  });

  test('RGBA PNGs are flattened onto black', async () => {
    const rgba = (alpha: number) => sharp({ create: { width: 16, height: 16, channels: 4, background: { r: 255, g: 0, b: 0, alpha } } }).png().toBuffer();
    const transparent = await rgba(0);
    assert.equal((await sharp(transparent).metadata()).channels, 4, 'fixture has alpha');
    assertColourNear(await decodeCentre(transparent), BLACK, 2, 'fully transparent');
    assertColourNear(await decodeCentre(await rgba(0.5)), [128, 0, 0], 3, 'half transparent');
    assertColourNear(await decodeCentre(await rgba(1)), RED, 2, 'opaque');
  });

  test('a grayscale+alpha PNG is flattened onto black', async () => {
    const raw = Buffer.alloc(16 * 16 * 2);
    for (let i = 0; i < 16 * 16; i++) raw[i * 2] = 200; // gray 200, alpha 0
    const png = await sharp(raw, { raw: { width: 16, height: 16, channels: 2 } }).toColourspace('b-w').png().toBuffer();
    assert.equal((await sharp(png).metadata()).channels, 2, 'fixture is gray+alpha');
    assertColourNear(await decodeCentre(png), BLACK, 2);
  });
});

describe('SharpImageDecoder: resize fit', () => {
  test('contain pads a wide image with black bars; cover fills the square', async () => {
    const png = await solidImage(40, 20, WHITE).png().toBuffer();
    const contain = await decoder.decode(png, options({ size: 10, fit: 'contain' }));
    const cover = await decoder.decode(png, options({ size: 10, fit: 'cover' }));
    for (const decoded of [contain, cover]) assert.equal(decoded.data.length, 10 * 10 * 3);
    // contain: 40x20 -> 10x5 centred, black above and below.
    assertColourNear(pixelAt(contain, 5, 0), BLACK, 5, 'contain top bar');
    assertColourNear(pixelAt(contain, 5, 9), BLACK, 5, 'contain bottom bar');
    assertColourNear(pixelAt(contain, 5, 5), WHITE, 5, 'contain middle');
    for (const [x, y] of [[5, 0], [5, 9], [0, 0], [9, 9], [5, 5]]) assertColourNear(pixelAt(cover, x, y), WHITE, 5, `cover (${x}, ${y})`);
  });

  test('cover crops the centre of a wide image; contain keeps its edges', async () => {
    // 100x20: red up to x=30, green to x=70, blue after; cover keeps the centre 20x20 (x 40..60).
    const png = await paintedImage(100, 20, (x) => (x < 30 ? RED : x < 70 ? GREEN : BLUE)).png().toBuffer();
    const cover = await decoder.decode(png, options({ size: 10, fit: 'cover' }));
    assertColourNear(pixelAt(cover, 0, 5), GREEN, 10, 'cover left');
    assertColourNear(pixelAt(cover, 9, 5), GREEN, 10, 'cover right');
    const contain = await decoder.decode(png, options({ size: 20, fit: 'contain' }));
    assertColourNear(pixelAt(contain, 1, 10), RED, 30, 'contain left');
    assertColourNear(pixelAt(contain, 10, 10), GREEN, 30, 'contain centre');
    assertColourNear(pixelAt(contain, 18, 10), BLUE, 30, 'contain right');
    assertColourNear(pixelAt(contain, 10, 1), BLACK, 5, 'contain top bar');
  });
});

describe('SharpImageDecoder: pixel limit', () => {
  test('an image above maxInputPixels is refused with a DataError naming the limit', async () => {
    const png = await solidImage(100, 100, GREEN).png().toBuffer();
    await assertDataError(png, options({ maxInputPixels: 1000 }), /pixel limit/i, /\b1000\b/, /maxInputPixels/);
  });

  test('an image at or below maxInputPixels decodes', async () => {
    const png = await solidImage(100, 100, GREEN).png().toBuffer();
    const decoded = await decoder.decode(png, options({ maxInputPixels: 10_000 }));
    assertColourNear(pixelAt(decoded, 3, 3), GREEN, 2);
  });
});

describe('SharpImageDecoder: bad input', () => {
  test('a zero-byte buffer', async () => {
    await assertDataError(Buffer.alloc(0), options(), /empty file|0 bytes/i);
  });

  test('random bytes', async () => {
    await assertDataError(pseudoRandomBytes(4096, 42), options(), /not an image|unsupported|format/i);
  });

  test('a text file', async () => {
    await assertDataError(Buffer.from('name,label\ncat.jpg,cat\n'.repeat(20)), options(), /not an image|unsupported|format/i);
  });

  test('a truncated JPEG (first half of its bytes)', async () => {
    await assertDataError(await truncatedJpeg(), options(), /cannot be decoded/i, /premature end|truncat/i);
  });

  test("failing side by side, each file still gets its own reason (libvips' one error buffer)", async () => {
    // Decoded concurrently without the retry alone, about one truncated JPEG in five read another
    // failure's text or none ("Unknown error", 41 of 200 rounds of these four).
    const truncated = await truncatedJpeg();
    const garbage = pseudoRandomBytes(2048, 3);
    const reasons = async (input: Buffer) =>
      decoder.decode(input, options()).then(
        () => 'decoded',
        (error: Error) => error.message,
      );
    for (let round = 0; round < 50; round++) {
      const results = await Promise.all([truncated, garbage, truncated, garbage].map(reasons));
      assert.deepEqual(
        results.map((reason, i) => (i % 2 === 0 ? /premature end/i.test(reason) : /not an image/i.test(reason))),
        [true, true, true, true],
        `round ${round}: ${results.join(' / ')}`,
      );
    }
  });
});

describe('SharpImageDecoder: describe()', () => {
  test('changes with size and fit, and is stable for equal options', () => {
    const base = decoder.describe(options({ size: 224, fit: 'cover' }));
    assert.equal(decoder.describe(options({ size: 224, fit: 'cover' })), base);
    assert.notEqual(decoder.describe(options({ size: 160, fit: 'cover' })), base, 'size keys the cache');
    assert.notEqual(decoder.describe(options({ size: 224, fit: 'contain' })), base, 'fit keys the cache');
    assert.match(base, /224/);
    assert.match(base, /sharp/);
  });
});
