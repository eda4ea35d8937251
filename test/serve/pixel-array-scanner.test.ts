import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePredictBody } from '../../src/serve/instance-arrays';
import { scanPixelArrays } from '../../src/serve/pixel-array-scanner';

const SIZE = 4;
/** A [SIZE, SIZE, 3] image whose values run through 0..255. */
function image(offset = 0): number[][][] {
  return Array.from({ length: SIZE }, (_, y) => Array.from({ length: SIZE }, (_, x) => [0, 1, 2].map((c) => (offset + (y * SIZE + x) * 3 + c) * 17 % 256)));
}
const bytes = (text: string) => new TextEncoder().encode(text);

describe('scanPixelArrays', () => {
  it('reads plain pixel arrays into typed arrays, equal to what JSON.parse reads, whatever the whitespace', () => {
    const images = [image(0), image(5)];
    for (const text of [JSON.stringify({ instances: images }), JSON.stringify({ instances: images }, null, 2).replace(/\n/g, '\r\n\t'), JSON.stringify({ inputs: images })]) {
      const scanned = scanPixelArrays(bytes(text), SIZE, 64);
      assert.ok(scanned, text.slice(0, 40));
      assert.equal(scanned.key, text.includes('inputs') ? 'inputs' : 'instances');
      assert.deepEqual(
        scanned.instances.map((instance) => Array.from((instance as { pixels: Float32Array }).pixels)),
        images.map((pixels) => pixels.flat(2)),
      );
    }
  });

  it('leaves every other body to the JSON parser', () => {
    const plain = JSON.stringify({ instances: [image()] });
    const others = [
      plain.replace('[0,17,34]', '[0,17,34.5]'), // a fraction
      plain.replace('[0,17,34]', '[0,17,3e1]'), // an exponent
      plain.replace('[0,17,34]', '[0,17,256]'), // over 255
      plain.replace('[0,17,34]', '[0,17,-3]'), // a sign
      plain.replace('[0,17,34]', '[0,17,034]'), // a leading zero (not JSON)
      plain.replace('[0,17,34]', '[0,17]'), // two channels
      plain.replace('[0,17,34]', '[0,17,34],[1,2,3]'), // a row too long
      plain.replace('"instances"', '"instance"'),
      plain.replace('}', ',"signature_name":"serving_default"}'),
      JSON.stringify({ instances: [{ b64: 'aGVsbG8=' }] }),
      JSON.stringify({ instances: [] }),
      `${plain} x`,
      plain.slice(0, -3),
    ];
    for (const text of others) assert.equal(scanPixelArrays(bytes(text), SIZE, 64), undefined, text.slice(0, 60));
    assert.equal(scanPixelArrays(bytes(JSON.stringify({ instances: [image(), image()] })), SIZE, 1), undefined, 'more than maxInstances');
  });

  it('changes nothing parsePredictBody answers, errors included', () => {
    const fraction = JSON.stringify({ instances: [image()] }).replace('[0,17,34]', '[0,17,34.5]');
    const parsed = parsePredictBody(bytes(fraction), SIZE, { maxInstances: 64 });
    assert.equal((parsed.instances[0] as { pixels: Float32Array }).pixels[2], 34.5);
    const over = JSON.stringify({ instances: [image()] }).replace('[0,17,34]', '[0,17,256]');
    assert.throws(() => parsePredictBody(bytes(over), SIZE, { maxInstances: 64 }), /instances\[0\]\[0\]\[0\]\[2\] is number 256; expected a number in 0..255/);
    const many = JSON.stringify({ instances: [image(), image()] });
    assert.throws(() => parsePredictBody(bytes(many), SIZE, { maxInstances: 1 }), /holds 2 images; this server takes at most 1/);
  });
});
