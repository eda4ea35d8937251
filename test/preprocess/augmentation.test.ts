import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { augmentImage, viewParameters, type AugmentationSettings, type ViewParameters } from '../../src/preprocess/augmentation';
import type { DecodedImage } from '../../src/preprocess/image-decoder';
import { BLUE, GREEN, RED, assertColourNear, pixelAt, type Rgb } from '../helpers/images';

const settings: AugmentationSettings = { views: 2, minCropArea: 0.5, flip: true, rotationDegrees: 15, brightness: 0.3, contrast: 0.3, seed: 42 };
const identity: ViewParameters = { crop: { left: 0, top: 0, width: 1, height: 1 }, flip: false, degrees: 0, brightness: 1, contrast: 1 };

/** A side x side image painted by paint(x, y). */
function image(side: number, paint: (x: number, y: number) => Rgb): DecodedImage {
  const data = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) data.set(paint(x, y), (y * side + x) * 3);
  return { data, width: side, height: side };
}

const halves = image(32, (x) => (x < 16 ? RED : BLUE));

describe('augmented views', () => {
  it('draw the same parameters for the same image, view and seed, and other ones otherwise', () => {
    const sha = 'ab'.repeat(32);
    assert.deepEqual(viewParameters(sha, 1, settings), viewParameters(sha, 1, settings));
    assert.notDeepEqual(viewParameters(sha, 1, settings), viewParameters(sha, 2, settings));
    assert.notDeepEqual(viewParameters(sha, 1, settings), viewParameters(sha, 1, { ...settings, seed: 7 }));
    assert.notDeepEqual(viewParameters(sha, 1, settings), viewParameters('cd'.repeat(32), 1, settings));
  });

  it('stay within the configured ranges, and flip about half of the views', () => {
    let flips = 0;
    for (let i = 0; i < 400; i++) {
      const view = viewParameters(i.toString(16).padStart(64, '0'), 1, settings);
      const { left, top, width, height } = view.crop;
      assert.ok(width * height >= settings.minCropArea * 0.999 || width === 1 || height === 1, `area ${width * height}`);
      assert.ok(left >= 0 && top >= 0 && left + width <= 1 + 1e-9 && top + height <= 1 + 1e-9);
      assert.ok(Math.abs(view.degrees) <= 15 && Math.abs(view.brightness - 1) <= 0.3 && Math.abs(view.contrast - 1) <= 0.3);
      if (view.flip) flips++;
    }
    assert.ok(flips > 150 && flips < 250, `${flips} of 400 flipped`);
    assert.ok([...Array(50).keys()].every((i) => !viewParameters(String(i), 1, { ...settings, flip: false }).flip));
  });

  it('keep the size; identity parameters give the image back', async () => {
    const out = await augmentImage(halves, identity);
    assert.equal(out.width, 32);
    assert.equal(out.height, 32);
    assert.deepEqual(Buffer.from(out.data), Buffer.from(halves.data));
  });

  it('flip mirrors left and right', async () => {
    const out = await augmentImage(halves, { ...identity, flip: true });
    assertColourNear(pixelAt(out, 2, 16), BLUE, 0, 'left after flip');
    assertColourNear(pixelAt(out, 29, 16), RED, 0, 'right after flip');
  });

  it('crop keeps the chosen region, resized back to full size', async () => {
    const out = await augmentImage(halves, { ...identity, crop: { left: 0, top: 0.25, width: 0.5, height: 0.5 } });
    assertColourNear(pixelAt(out, 0, 0), RED, 0, 'top left');
    assertColourNear(pixelAt(out, 31, 31), RED, 2, 'bottom right of the left-half crop');
  });

  it('brightness scales and contrast spreads around mid-grey', async () => {
    const grey = image(8, () => [100, 100, 100]);
    assertColourNear(pixelAt(await augmentImage(grey, { ...identity, brightness: 1.2 }), 4, 4), [120, 120, 120], 1, 'brighter');
    assertColourNear(pixelAt(await augmentImage(grey, { ...identity, contrast: 2 }), 4, 4), [72, 72, 72], 1, 'more contrast');
  });

  it('rotation turns the image and fills the corners black', async () => {
    const green = image(32, () => GREEN);
    const out = await augmentImage(green, { ...identity, degrees: 15 });
    assert.equal(out.width, 32);
    assertColourNear(pixelAt(out, 16, 16), GREEN, 1, 'centre');
    assertColourNear(pixelAt(out, 0, 0), [0, 0, 0], 40, 'corner');
  });
});
