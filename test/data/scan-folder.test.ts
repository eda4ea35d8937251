import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ImageFile } from '../../src/data/dataset';
import { scanFolder } from '../../src/data/scan-folder';
import { DataError } from '../../src/errors';
import { makeTempDir, removeTempDir, writeTree } from '../helpers/images';
import { openToOthers, runUnprivileged } from '../helpers/unprivileged';

// scanFolder only lists files; it never reads them, so placeholder bytes are enough here.
const placeholder = 'not decoded by scanFolder';

let workDir: string;
let counter = 0;

/** A fresh data folder holding the given files (relative path -> contents). */
function dataFolder(files: Record<string, string>): string {
  const root = path.join(workDir, `data-${++counter}`);
  fs.mkdirSync(root);
  writeTree(root, files);
  return root;
}

const relative = (root: string, files: { path: string }[]) => files.map((file) => path.relative(root, file.path)).sort();
const byPath = (root: string, files: ImageFile[], rel: string) => files.find((file) => file.path === path.join(root, rel));

function assertDataError(run: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof DataError, `expected a DataError, got ${String(error)}`);
    assert.equal(error.exitCode, 2);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

before(() => {
  workDir = makeTempDir('finetune-scan-');
});
after(() => removeTempDir(workDir));

describe('scanFolder: DIR/<class>/*', () => {
  test('finds every file of every class folder, labelled by its folder', () => {
    const root = dataFolder({ 'cats/a.jpg': placeholder, 'cats/b.png': placeholder, 'dogs/c.webp': placeholder });
    const scanned = scanFolder(root);
    assert.equal(scanned.layout, 'folders');
    assert.deepEqual(relative(root, scanned.files), ['cats/a.jpg', 'cats/b.png', 'dogs/c.webp']);
    assert.equal(byPath(root, scanned.files, 'cats/a.jpg')?.label, 'cats');
    assert.equal(byPath(root, scanned.files, 'dogs/c.webp')?.label, 'dogs');
    for (const file of scanned.files) assert.equal(file.givenSplit, undefined, 'no given split in this layout');
    assert.deepEqual(scanned.skipped, []);
  });

  test('hidden files and hidden folders are ignored, neither listed nor reported', () => {
    const root = dataFolder({
      'cats/a.jpg': placeholder,
      'cats/.DS_Store': placeholder,
      'cats/._a.jpg': placeholder,
      'dogs/b.jpg': placeholder,
      '.git/config': placeholder,
      '.thumbnails/x.jpg': placeholder,
      '.hidden-top-file': placeholder,
    });
    const scanned = scanFolder(root);
    assert.deepEqual(relative(root, scanned.files), ['cats/a.jpg', 'dogs/b.jpg']);
    assert.deepEqual(scanned.skipped, []);
    assert.ok(!scanned.files.some((file) => file.label.startsWith('.')), 'no hidden class');
  });

  test('files at the top level and folders nested in a class are reported in skipped with reasons', () => {
    const root = dataFolder({
      'README.txt': placeholder,
      'loose.jpg': placeholder,
      'cats/a.jpg': placeholder,
      'cats/kittens/b.jpg': placeholder,
      'dogs/c.jpg': placeholder,
    });
    const scanned = scanFolder(root);
    assert.deepEqual(relative(root, scanned.files), ['cats/a.jpg', 'dogs/c.jpg'], 'nested images are not taken');
    assert.deepEqual(relative(root, scanned.skipped), ['README.txt', 'cats/kittens', 'loose.jpg']);
    const reason = (rel: string) => scanned.skipped.find((entry) => entry.path === path.join(root, rel))?.reason ?? '';
    assert.match(reason('README.txt'), /outside a class folder/);
    assert.match(reason('loose.jpg'), /outside a class folder/);
    assert.match(reason('cats/kittens'), /nested folder/);
  });

  test('a folder with train/ but no val/ is not taken as a split layout', () => {
    const root = dataFolder({ 'train/a.jpg': placeholder, 'dogs/b.jpg': placeholder });
    const scanned = scanFolder(root);
    assert.equal(scanned.layout, 'folders');
    assert.equal(byPath(root, scanned.files, 'train/a.jpg')?.label, 'train');
  });
});

describe('scanFolder: DIR/{train,val[,test]}/<class>/*', () => {
  test('train, val and test are scanned, each file carrying its given split', () => {
    const root = dataFolder({
      'train/cats/a.jpg': placeholder,
      'train/dogs/b.jpg': placeholder,
      'val/cats/c.jpg': placeholder,
      'val/dogs/d.jpg': placeholder,
      'test/cats/e.jpg': placeholder,
    });
    const scanned = scanFolder(root);
    assert.equal(scanned.layout, 'split-folders');
    assert.deepEqual(relative(root, scanned.files), ['test/cats/e.jpg', 'train/cats/a.jpg', 'train/dogs/b.jpg', 'val/cats/c.jpg', 'val/dogs/d.jpg']);
    const expect = { 'train/cats/a.jpg': ['train', 'cats'], 'train/dogs/b.jpg': ['train', 'dogs'], 'val/cats/c.jpg': ['val', 'cats'], 'test/cats/e.jpg': ['test', 'cats'] };
    for (const [rel, [split, label]] of Object.entries(expect)) {
      const file = byPath(root, scanned.files, rel);
      assert.equal(file?.givenSplit, split, rel);
      assert.equal(file?.label, label, rel);
    }
    assert.deepEqual(scanned.skipped, []);
  });

  test('test/ is optional', () => {
    const root = dataFolder({ 'train/cats/a.jpg': placeholder, 'val/cats/b.jpg': placeholder });
    const scanned = scanFolder(root);
    assert.equal(scanned.layout, 'split-folders');
    assert.deepEqual(scanned.files.map((file) => file.givenSplit).sort(), ['train', 'val']);
  });

  test('other top-level entries, loose files in a split and nested folders are reported in skipped', () => {
    const root = dataFolder({
      'train/cats/a.jpg': placeholder,
      'train/cats/deeper/x.jpg': placeholder,
      'train/stray.jpg': placeholder,
      'val/cats/b.jpg': placeholder,
      'extra/cats/c.jpg': placeholder,
      'notes.txt': placeholder,
      '.cache/y.jpg': placeholder,
    });
    const scanned = scanFolder(root);
    assert.deepEqual(relative(root, scanned.files), ['train/cats/a.jpg', 'val/cats/b.jpg']);
    const reason = (rel: string) => scanned.skipped.find((entry) => entry.path === path.join(root, rel))?.reason;
    assert.match(reason('extra') ?? '', /not one of train\/, val\/, test\//);
    assert.match(reason('notes.txt') ?? '', /not one of train\/, val\/, test\//);
    assert.match(reason('train/stray.jpg') ?? '', /outside a class folder/);
    assert.match(reason('train/cats/deeper') ?? '', /nested folder/);
    assert.equal(reason('.cache'), undefined, 'hidden entries are not reported');
    assert.equal(scanned.skipped.length, 4);
  });
});

describe('scanFolder: unusable data paths', () => {
  test('a missing folder', () => {
    const missing = path.join(workDir, 'no-such-folder');
    assertDataError(() => scanFolder(missing), /does not exist/, new RegExp(missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')), /class/);
  });

  test('a file instead of a folder', () => {
    const file = path.join(workDir, 'a-file.jpg');
    fs.writeFileSync(file, placeholder);
    assertDataError(() => scanFolder(file), /is a file/, /folder/, /class/);
  });

  test('an empty folder', () => {
    const root = dataFolder({});
    assertDataError(() => scanFolder(root), /no images/, /DIR\/<class>\/<image>/);
  });

  test('a folder with only empty class folders, loose files and hidden files', () => {
    const root = dataFolder({ 'loose.jpg': placeholder, '.hidden/a.jpg': placeholder, 'cats/.DS_Store': placeholder });
    fs.mkdirSync(path.join(root, 'dogs'));
    assertDataError(() => scanFolder(root), /no images/);
  });
});

/** A named pipe at `file` (nothing ever writes to it: reading it would wait forever). */
function makeFifo(file: string): void {
  execFileSync('mkfifo', [file]);
}

/** A folder or file name from raw bytes (e.g. Latin-1 "café", which is not UTF-8). */
const rawName = (dir: string, bytes: number[]) => Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(bytes)]);
const latin1Cafe = [0x63, 0x61, 0x66, 0xe9];

describe('scanFolder: only regular files, after resolving links', () => {
  test('a FIFO, a link to a FIFO, a link to /dev/zero and a broken link are skipped with what they are', { timeout: 10_000 }, () => {
    const root = dataFolder({ 'cats/a.jpg': placeholder, 'dogs/b.jpg': placeholder, 'elsewhere/real.jpg': placeholder });
    makeFifo(path.join(root, 'cats', 'pipe.jpg'));
    fs.symlinkSync(path.join(root, 'cats', 'pipe.jpg'), path.join(root, 'dogs', 'to-pipe.jpg'));
    fs.symlinkSync('/dev/zero', path.join(root, 'dogs', 'zero.jpg'));
    fs.symlinkSync(path.join(root, 'nowhere.jpg'), path.join(root, 'dogs', 'broken.jpg'));
    fs.symlinkSync(path.join(root, 'elsewhere', 'real.jpg'), path.join(root, 'dogs', 'linked.jpg'));
    const scanned = scanFolder(path.join(root));
    const reason = (rel: string) => scanned.skipped.find((entry) => entry.path === path.join(root, rel))?.reason ?? '';
    assert.match(reason('cats/pipe.jpg'), /^a FIFO \(named pipe\), not a regular image file$/);
    assert.match(reason('dogs/to-pipe.jpg'), /^link to a FIFO/);
    assert.match(reason('dogs/zero.jpg'), /^link to a character device/);
    assert.match(reason('dogs/broken.jpg'), /^broken link: ENOENT/);
    assert.ok(relative(root, scanned.files).includes('dogs/linked.jpg'), 'a link to a regular file is an image file');
    assert.ok(!relative(root, scanned.files).some((rel) => /pipe|zero|broken/.test(rel)));
  });
});

describe('scanFolder: names that cannot be labels or paths', () => {
  test('a non-UTF-8 file name is skipped as such (with its bytes), not reported as ENOENT', () => {
    const root = dataFolder({ 'cats/a.jpg': placeholder, 'dogs/b.jpg': placeholder });
    fs.writeFileSync(rawName(path.join(root, 'cats'), [...latin1Cafe, 0x2e, 0x6a, 0x70, 0x67]), placeholder);
    const scanned = scanFolder(root);
    assert.deepEqual(relative(root, scanned.files), ['cats/a.jpg', 'dogs/b.jpg']);
    assert.equal(scanned.skipped.length, 1);
    assert.match(scanned.skipped[0].reason, /^file name "caf\ufffd\.jpg" \(bytes 63 61 66 e9 2e 6a 70 67\) is not valid UTF-8; rename/);
    assert.doesNotMatch(scanned.skipped[0].reason, /ENOENT/);
  });

  test('a non-UTF-8 class folder name is a DataError showing its bytes', () => {
    const root = dataFolder({ 'dogs/b.jpg': placeholder });
    fs.mkdirSync(rawName(root, latin1Cafe));
    fs.writeFileSync(Buffer.concat([rawName(root, latin1Cafe), Buffer.from('/a.jpg')]), placeholder);
    assertDataError(() => scanFolder(root), /Class folder name "caf\ufffd" \(bytes 63 61 66 e9\)/, /not valid UTF-8/, /Rename the folder/);
  });

  test('a class folder name with a newline is refused up front', () => {
    const root = dataFolder({ 'dogs/b.jpg': placeholder, 'two\nlines/a.jpg': placeholder });
    assertDataError(() => scanFolder(root), /Class folder name "two\\nlines"/, /control character such as a newline/, /one line of labels\.txt/);
  });
});

describe('scanFolder: unreadable folders (checked as an unprivileged user: root reads through permission bits)', () => {
  const scanAs = (root: string) =>
    runUnprivileged<unknown>(`return require(${JSON.stringify(path.resolve(__dirname, '../../src/data/scan-folder.js'))}).scanFolder(args[0]);`, [root]);

  test('an unreadable class folder is a DataError naming it, with how to fix it', () => {
    const root = dataFolder({ 'cats/a.jpg': placeholder, 'dogs/b.jpg': placeholder });
    for (const dir of [workDir, root, path.join(root, 'dogs')]) openToOthers(dir);
    fs.chmodSync(path.join(root, 'cats'), 0o000);
    const { error } = scanAs(root);
    assert.equal(error?.name, 'DataError');
    assert.equal(error?.exitCode, 2);
    assert.match(error!.message, new RegExp(`Cannot read the class folder ${path.join(root, 'cats')} \\(EACCES\\)`));
    assert.match(error!.message, /chmod -R a\+rX/);
  });

  test('the same folder readable by the user scans normally (the child sees the permission bits, nothing else)', () => {
    const root = dataFolder({ 'cats/a.jpg': placeholder, 'dogs/b.jpg': placeholder });
    for (const dir of [workDir, root, path.join(root, 'cats'), path.join(root, 'dogs')]) openToOthers(dir);
    const { value, error } = scanAs(root);
    assert.equal(error, undefined);
    assert.equal((value as { files: unknown[] }).files.length, 2);
  });
});
