import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspectImages } from '../../src/data/inspect-images';
import { maxImageFileBytes, readImageFile } from '../../src/data/read-image-file';
import { SharpImageDecoder } from '../../src/preprocess/sharp-image-decoder';
import { makeTempDir, noisePng, removeTempDir } from '../helpers/images';

let workDir: string;
before(() => {
  workDir = makeTempDir('finetune-read-');
});
after(() => removeTempDir(workDir));

const reasonOf = async (file: string) => {
  try {
    await readImageFile(file);
    return 'read';
  } catch (error) {
    return (error as Error).message;
  }
};

// A timeout turns the old behaviour (waiting forever for a writer, or reading /dev/zero) into a failure.
describe('readImageFile: only regular files, after resolving links, with a size bound', { timeout: 10_000 }, () => {
  test('a regular file (also through a link) is read whole', async () => {
    const png = await noisePng(7);
    const file = path.join(workDir, 'a.png');
    fs.writeFileSync(file, png);
    fs.symlinkSync(file, path.join(workDir, 'link.png'));
    assert.deepEqual(await readImageFile(file), png);
    assert.deepEqual(await readImageFile(path.join(workDir, 'link.png')), png);
  });

  test('a link to a FIFO is refused at once, without waiting for a writer', async () => {
    execFileSync('mkfifo', [path.join(workDir, 'pipe')]);
    fs.symlinkSync(path.join(workDir, 'pipe'), path.join(workDir, 'pipe.jpg'));
    assert.equal(await reasonOf(path.join(workDir, 'pipe.jpg')), 'a FIFO (named pipe), not a regular image file');
  });

  test('a link to /dev/zero is refused, not read', async () => {
    fs.symlinkSync('/dev/zero', path.join(workDir, 'zero.jpg'));
    assert.equal(await reasonOf(path.join(workDir, 'zero.jpg')), 'a character device, not a regular image file');
  });

  test('a file above the size bound is refused without being read (a sparse file: nothing is allocated)', async () => {
    const big = path.join(workDir, 'big.png');
    fs.closeSync(fs.openSync(big, 'w'));
    fs.truncateSync(big, maxImageFileBytes + 1);
    assert.match(await reasonOf(big), new RegExp(`^${maxImageFileBytes + 1} bytes, above the limit of ${maxImageFileBytes} bytes`));
    assert.match(await reasonOf(path.join(workDir, 'missing.png')), /^unreadable: ENOENT$/);
  });

  test('inspectImages skips a link to a FIFO with its reason instead of hanging', async () => {
    const good = path.join(workDir, 'good.png');
    fs.writeFileSync(good, await noisePng(8));
    execFileSync('mkfifo', [path.join(workDir, 'pipe2')]);
    fs.symlinkSync(path.join(workDir, 'pipe2'), path.join(workDir, 'pipe2.png'));
    const { records, skipped } = await inspectImages(
      [{ path: good, label: 'a' }, { path: path.join(workDir, 'pipe2.png'), label: 'a' }],
      new SharpImageDecoder(),
      { fit: 'cover', maxInputPixels: 1e6, concurrency: 2 },
    );
    assert.deepEqual(records.map((r) => r.path), [good]);
    assert.deepEqual(skipped, [{ path: path.join(workDir, 'pipe2.png'), reason: 'a FIFO (named pipe), not a regular image file' }]);
  });
});
