import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { instancesOf, parseInstance } from '../../src/serve/instance-arrays';
import { pixelArrayShapeError } from '../../src/serve/pixel-array-shape';

const SIZE = 3;
const good = () => Array.from({ length: SIZE }, () => Array.from({ length: SIZE }, () => [1, 2, 3]));
const bytes = (text: string) => new TextEncoder().encode(text);

/** What the JSON.parse path says about a body: its first error's status and message, or 'ok'. */
function viaJson(text: string, maxInstances = 64): string {
  try {
    const { key, instances } = instancesOf(JSON.parse(text), { maxInstances });
    instances.forEach((instance, i) => parseInstance(instance, `${key}[${i}]`, SIZE));
    return 'ok';
  } catch (error) {
    return `${(error as { statusCode?: number }).statusCode} ${(error as Error).message}`;
  }
}

function edited(edit: (images: unknown[][]) => void, key = 'instances'): string {
  const images: unknown[][] = [good(), good()];
  edit(images);
  return JSON.stringify({ [key]: images });
}

describe('pixelArrayShapeError', () => {
  it('refuses wrongly shaped number arrays with the message and status JSON.parse would lead to, first defect first', () => {
    const bodies = [
      edited((images) => images[0].push(images[0][0])), // 4 rows
      edited((images) => (images[1] = [])), // no rows, in the second image
      edited((images) => ((images[0] as number[][][])[1] = [[1, 2, 3]])), // a short row
      edited((images) => ((images[0] as unknown[])[2] = 7)), // a number for a row
      edited((images) => ((images[1] as number[][][])[2][1] = [1, 2])), // two channels
      edited((images) => ((images[0] as unknown[][])[0][0] = 5)), // a number for a pixel
      edited((images) => ((images[0] as number[][][])[1][1][2] = 256)), // over 255
      edited((images) => ((images[0] as number[][][])[1][1][0] = -0.5)), // negative
      edited((images) => ((images[0] as unknown[][][])[0][2][1] = [1])), // an array for a channel
      edited((images) => {
        (images[0] as number[][][])[2][2][2] = 300; // the later defect of two
        images[1].push([]);
      }, 'inputs'),
      edited((images) => ((images[0] as number[][][])[1][1][2] = 1e3)),
      JSON.stringify({ instances: [Array.from({ length: 1100 }, () => [[255, 128, 0]])] }),
    ];
    for (const text of bodies) {
      const error = pixelArrayShapeError(bytes(text), SIZE, 64);
      assert.ok(error, text.slice(0, 80));
      assert.equal(`${error.statusCode} ${error.message}`, viaJson(text));
    }
  });

  it('leaves to JSON.parse what it cannot answer exactly: valid images, other values, invalid JSON, too many images', () => {
    const bodies = [
      edited(() => {}),
      edited((images) => ((images[0] as number[][][])[1][1][2] = 2.5)), // fits
      edited((images) => ((images[0] as unknown[])[0] = 'row')),
      edited((images) => ((images[0] as unknown[][])[0][0] = { r: 1 })),
      edited((images) => ((images[0] as unknown) = 4)), // a number for an image: parseInstance's message
      JSON.stringify({ instances: [{ b64: 'aGVsbG8=' }] }),
      JSON.stringify({ instances: [] }),
      JSON.stringify({ instances: [good()], signature_name: 'x' }),
      edited((images) => images[0].push(images[0][0])).replace(']]]', ']],]'), // invalid JSON
      edited((images) => images[0].push(images[0][0])).replace('1,2,3', '01,2,3'), // a leading zero
    ];
    for (const text of bodies) assert.equal(pixelArrayShapeError(bytes(text), SIZE, 64), undefined, text.slice(0, 80));
    assert.equal(pixelArrayShapeError(bytes(edited((images) => images[0].push(images[0][0]))), SIZE, 1), undefined, 'more than maxInstances: 413 first');
  });
});
