import 'reflect-metadata';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadDataset, type LoadDatasetOptions } from '../../src/data/load-dataset';
import { splitByContentHash } from '../../src/data/split-dataset';
import { DataError } from '../../src/errors';
import { SharpImageDecoder } from '../../src/preprocess/sharp-image-decoder';
import { makeTempDir, noisePng, pseudoRandomBytes, removeTempDir, sha256Of, truncatedJpeg, writeTree } from '../helpers/images';

const decoder = new SharpImageDecoder();
const defaults: LoadDatasetOptions = {
  validationFraction: 0.2,
  minImagesPerClass: 3,
  decode: { fit: 'cover', maxInputPixels: 10_000_000, concurrency: 4 },
};

let workDir: string;
let counter = 0;
let seed = 1000;

/** Class folder contents: a number of distinct 8x8 PNGs, plus any named extra files. */
type Spec = Record<string, number | Record<string, Buffer | string>>;

/**
 * A fresh data folder. Keys are class folders (or split/class), values either a count of good,
 * distinct images or an object of named files. Returns the root.
 */
async function dataFolder(spec: Spec): Promise<string> {
  const root = path.join(workDir, `data-${++counter}`);
  fs.mkdirSync(root);
  const files: Record<string, Buffer | string> = {};
  for (const [folder, contents] of Object.entries(spec)) {
    if (typeof contents === 'number') {
      for (let i = 0; i < contents; i++) files[`${folder}/img${i}.png`] = await noisePng(++seed);
    } else {
      for (const [name, bytes] of Object.entries(contents)) files[`${folder}/${name}`] = bytes;
    }
  }
  writeTree(root, files);
  return root;
}

async function goodImages(count: number): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {};
  for (let i = 0; i < count; i++) out[`good${i}.png`] = await noisePng(++seed);
  return out;
}

const badFiles = async (): Promise<Record<string, Buffer | string>> => ({
  'corrupt.png': pseudoRandomBytes(512, ++seed),
  'truncated.jpg': await truncatedJpeg(++seed),
  'empty.jpg': Buffer.alloc(0),
  'readme.jpg': 'not an image\n',
});

async function assertDataError(run: Promise<unknown>, ...patterns: RegExp[]): Promise<string> {
  let message = '';
  await assert.rejects(run, (error: unknown) => {
    assert.ok(error instanceof DataError, `expected a DataError, got ${String(error)}`);
    assert.equal(error.exitCode, 2);
    for (const pattern of patterns) assert.match(error.message, pattern);
    message = error.message;
    return true;
  });
  return message;
}

const rel = (root: string, records: { path: string }[]) => records.map((r) => path.relative(root, r.path)).sort();

before(() => {
  workDir = makeTempDir('finetune-load-');
});
after(() => removeTempDir(workDir));

describe('loadDataset: refusals', () => {
  test('a single class is refused, naming the count and what is expected', async () => {
    const root = await dataFolder({ cats: 4 });
    await assertDataError(loadDataset(root, decoder, defaults), /1 class \(cats\)/, /at least 2/, /class folders/);
  });

  test('two classes whose files are all bad are both named, with what was skipped in each', async () => {
    const root = await dataFolder({ cats: await badFiles(), dogs: { 'x.jpg': 'text' } });
    await assertDataError(loadDataset(root, decoder, defaults), /without usable images/, /cats \(.*4 files skipped/, /dogs \(.*1 file skipped/, /skipEmptyClasses/);
  });

  test('a class below minImagesPerClass is refused, naming the class, its count and data.minImagesPerClass', async () => {
    const root = await dataFolder({ cats: 6, dogs: 2 });
    const message = await assertDataError(loadDataset(root, decoder, { ...defaults, minImagesPerClass: 5 }), /dogs \(2 usable images\)/, /minimum of 5/, /data\.minImagesPerClass/);
    assert.doesNotMatch(message, /cats/, 'a class with enough images is not named');
  });

  test('every class below the minimum is named', async () => {
    const root = await dataFolder({ ants: 1, bees: 2, cats: 6 });
    await assertDataError(loadDataset(root, decoder, { ...defaults, minImagesPerClass: 3 }), /ants \(1 usable images\)/, /bees \(2 usable images\)/);
  });

  test('bad files and duplicates do not count toward the minimum', async () => {
    const dup = await noisePng(++seed);
    const root = await dataFolder({ cats: 5, dogs: { ...(await goodImages(3)), ...(await badFiles()), 'dup-a.png': dup, 'dup-b.png': dup } });
    // dogs: 3 good + 1 kept duplicate = 4 usable of 9 files.
    await assertDataError(loadDataset(root, decoder, { ...defaults, minImagesPerClass: 5 }), /dogs \(4 usable images\)/);
    const ok = await loadDataset(root, decoder, { ...defaults, minImagesPerClass: 4 });
    assert.equal([...ok.train, ...ok.val].filter((r) => r.label === 'dogs').length, 4);
  });
});

describe('loadDataset: DIR/<class>/*', () => {
  test('bad files are listed in skipped, never in train or val; labels are sorted', async () => {
    const root = await dataFolder({ zebra: 6, apple: { ...(await goodImages(5)), ...(await badFiles()) }, mango: 7 });
    const dataset = await loadDataset(root, decoder, defaults);
    assert.equal(dataset.layout, 'folders');
    assert.deepEqual(dataset.labels, ['apple', 'mango', 'zebra']);
    assert.deepEqual(rel(root, dataset.skipped), ['apple/corrupt.png', 'apple/empty.jpg', 'apple/readme.jpg', 'apple/truncated.jpg']);
    for (const entry of dataset.skipped) assert.ok(entry.reason.length > 0);
    const used = [...dataset.train, ...dataset.val];
    assert.equal(used.length, 18);
    assert.ok(!used.some((r) => /corrupt|empty|readme|truncated/.test(r.path)));
    assert.deepEqual(dataset.test, []);
    for (const record of used) assert.equal(record.sha256, sha256Of(fs.readFileSync(record.path)));
  });

  test('the split is the content-hash split of the usable images, with a val image in every class', async () => {
    const root = await dataFolder({ a: 10, b: 10, c: 4 });
    const dataset = await loadDataset(root, decoder, defaults);
    const expected = splitByContentHash([...dataset.train, ...dataset.val], defaults.validationFraction);
    assert.deepEqual(rel(root, dataset.val), rel(root, expected.val));
    assert.deepEqual(rel(root, dataset.train), rel(root, expected.train));
    for (const label of dataset.labels) assert.ok(dataset.val.some((r) => r.label === label), `${label} has a val image`);
    assert.equal(dataset.train.length + dataset.val.length, 24);
  });

  test('validationFraction 0 puts everything in train', async () => {
    const root = await dataFolder({ a: 4, b: 4 });
    const dataset = await loadDataset(root, decoder, { ...defaults, validationFraction: 0 });
    assert.equal(dataset.train.length, 8);
    assert.deepEqual(dataset.val, []);
  });

  test('knownGood skips decoding: a corrupt file with a known hash is used', async () => {
    const corrupt = pseudoRandomBytes(300, ++seed);
    const root = await dataFolder({ a: { ...(await goodImages(3)), 'cached.jpg': corrupt }, b: 3 });
    const known = sha256Of(corrupt);
    // With a minimum of 4 only b (3 images) is short: a counts 4 because the corrupt file is taken as known good.
    const message = await assertDataError(loadDataset(root, decoder, { ...defaults, minImagesPerClass: 4, knownGood: (sha) => sha === known }), /b \(3 usable images\)/);
    assert.doesNotMatch(message, /\ba \(/);
    const loaded = await loadDataset(root, decoder, { ...defaults, validationFraction: 0, knownGood: (sha) => sha === known });
    assert.ok(loaded.train.some((r) => r.path.endsWith('cached.jpg')));
    assert.deepEqual(loaded.skipped, []);
  });
});

describe('loadDataset: DIR/{train,val[,test]}/<class>/*', () => {
  test('the given train, val and test are used as they are', async () => {
    const root = await dataFolder({ 'train/dogs': 4, 'train/cats': 5, 'val/cats': 2, 'val/dogs': 2, 'test/cats': 1, 'test/dogs': 1 });
    // A high fraction that would move images if the tool split train/ itself.
    const dataset = await loadDataset(root, decoder, { ...defaults, validationFraction: 0.9 });
    assert.equal(dataset.layout, 'split-folders');
    assert.deepEqual(dataset.labels, ['cats', 'dogs']);
    const under = (split: string, records: { path: string }[]) => rel(root, records).every((p) => p.startsWith(`${split}/`));
    assert.equal(dataset.train.length, 9);
    assert.ok(under('train', dataset.train));
    assert.equal(dataset.val.length, 4);
    assert.ok(under('val', dataset.val));
    assert.equal(dataset.test.length, 2);
    assert.ok(under('test', dataset.test));
    for (const r of dataset.train) assert.equal(r.label, path.basename(path.dirname(r.path)));
  });

  test('an image copied from train/ into val/ or test/ is left out there and reported', async () => {
    const copy = await noisePng(++seed);
    const root = await dataFolder({
      'train/a': { 'shared.png': copy, ...(await goodImages(3)) },
      'train/b': 3,
      'val/a': { 'leaked.png': copy, ...(await goodImages(1)) },
      'val/b': 1,
      'test/a': { 'leaked-too.png': copy },
      'test/b': 1,
    });
    const dataset = await loadDataset(root, decoder, defaults);
    assert.ok(!rel(root, dataset.val).includes('val/a/leaked.png'));
    assert.ok(!rel(root, dataset.test).includes('test/a/leaked-too.png'));
    assert.equal(dataset.val.length, 2);
    const reasons = dataset.skipped.filter((s) => /same bytes as training image/.test(s.reason)).map((s) => path.relative(root, s.path)).sort();
    assert.deepEqual(reasons, ['test/a/leaked-too.png', 'val/a/leaked.png']);
  });

  test('train/ and test/ without val/: validation is split off train/ by content hash', async () => {
    const root = await dataFolder({ 'train/a': 20, 'train/b': 20, 'test/a': 2, 'test/b': 2 });
    const dataset = await loadDataset(root, decoder, { ...defaults, validationFraction: 0.3 });
    assert.equal(dataset.layout, 'split-folders');
    assert.equal(dataset.test.length, 4);
    assert.equal(dataset.train.length + dataset.val.length, 40);
    assert.ok(dataset.val.length > 0);
    assert.ok([...dataset.train, ...dataset.val].every((r) => r.givenSplit === 'train'));
  });

  test('without test/ the test set is empty', async () => {
    const root = await dataFolder({ 'train/a': 3, 'train/b': 3, 'val/a': 1, 'val/b': 1 });
    const dataset = await loadDataset(root, decoder, defaults);
    assert.deepEqual(dataset.test, []);
    assert.equal(dataset.val.length, 2);
  });

  test('the minimum is checked on train/ only', async () => {
    const root = await dataFolder({ 'train/a': 3, 'train/b': 3, 'val/a': 1, 'val/b': 1 });
    await loadDataset(root, decoder, { ...defaults, minImagesPerClass: 3 });
    await assertDataError(loadDataset(root, decoder, { ...defaults, minImagesPerClass: 4 }), /a \(3 usable images\)/, /b \(3 usable images\)/);
  });

  test('a val/ class with no train/ counterpart is refused, naming it', async () => {
    const root = await dataFolder({ 'train/a': 3, 'train/b': 3, 'val/a': 1, 'val/c': 1 });
    await assertDataError(loadDataset(root, decoder, defaults), /val\/c/, /no train\/ counterpart/);
  });

  test('a test/ class with no train/ counterpart is refused, naming it', async () => {
    const root = await dataFolder({ 'train/a': 3, 'train/b': 3, 'val/a': 1, 'test/z': 1 });
    await assertDataError(loadDataset(root, decoder, defaults), /test\/z/, /no train\/ counterpart/);
  });

  test('classes only in val/ do not count toward the 2 classes', async () => {
    const root = await dataFolder({ 'train/a': 3, 'val/a': 1, 'val/b': 1 });
    await assertDataError(loadDataset(root, decoder, defaults), /1 class \(a\)/, /at least 2/);
  });
});

// Last in the file: the images they render draw on the shared seed, which earlier tests' splits depend on.
describe('loadDataset: a class without usable images never silently disappears', () => {
  test('a class whose files are all corrupt is refused, naming it (it never silently disappears)', async () => {
    const root = await dataFolder({ cats: 4, dogs: 4, birds: await badFiles() });
    const message = await assertDataError(loadDataset(root, decoder, defaults), /birds \(.*birds: 4 files skipped, e\.g\. \w+\.\w+: /, /data\.skipEmptyClasses/);
    assert.doesNotMatch(message, /cats|dogs/);
  });

  test('an empty class folder is refused, naming it', async () => {
    const root = await dataFolder({ cats: 4, dogs: 4 });
    fs.mkdirSync(path.join(root, 'birds'));
    await assertDataError(loadDataset(root, decoder, defaults), /birds \(.*birds: empty\)/);
  });

  test('an empty train/ class folder is refused in the split layout too', async () => {
    const root = await dataFolder({ 'train/cats': 4, 'train/dogs': 4, 'val/cats': 1, 'val/dogs': 1 });
    fs.mkdirSync(path.join(root, 'train', 'birds'));
    await assertDataError(loadDataset(root, decoder, defaults), /birds \(.*train.birds: empty\)/);
  });

  test('with skipEmptyClasses the class is left out with a warning naming it', async () => {
    const root = await dataFolder({ cats: 4, dogs: 4, birds: await badFiles() });
    fs.mkdirSync(path.join(root, 'fish'));
    const dataset = await loadDataset(root, decoder, { ...defaults, skipEmptyClasses: true });
    assert.deepEqual(dataset.labels, ['cats', 'dogs']);
    assert.equal(dataset.warnings.length, 1);
    assert.match(dataset.warnings[0], /left out classes without usable images \(data\.skipEmptyClasses\): birds \(.*4 files skipped.*\); fish \(.*empty\)/);
  });
});
