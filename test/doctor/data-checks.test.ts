import 'reflect-metadata';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { countByLabel, type Dataset } from '../../src/data/dataset';
import { loadDataset } from '../../src/data/load-dataset';
import { checkClassImbalance } from '../../src/doctor/data-class-imbalance';
import { checkCorruptFiles } from '../../src/doctor/data-corrupt-files';
import { checkDuplicatesAcrossClasses } from '../../src/doctor/data-duplicates-across-classes';
import { checkTinyOrMixedModeImages } from '../../src/doctor/data-tiny-or-mixed-mode-images';
import { fingerprintImages } from '../../src/doctor/image-fingerprint';
import { SharpImageDecoder } from '../../src/preprocess/sharp-image-decoder';
import { noiseImage, truncatedJpeg, writeTree } from '../helpers/images';
import { copySample } from '../helpers/sample-data';

const decoder = new SharpImageDecoder();
const load = (dir: string) =>
  loadDataset(dir, decoder, { validationFraction: 0.2, minImagesPerClass: 2, decode: { fit: 'cover', maxInputPixels: 1e8, concurrency: 4 } });
const usable = (dataset: Dataset) => [...dataset.train, ...dataset.val, ...dataset.test];
const firstFile = (dir: string, label: string) => path.join(dir, label, fs.readdirSync(path.join(dir, label)).sort()[0]);

describe('data.corrupt-files', () => {
  it('passes on the sample and warns naming a truncated JPEG and an empty file that the loader skipped', async () => {
    const dir = copySample({ classes: 2, perClass: 8 });
    const clean = await load(dir);
    assert.equal(checkCorruptFiles(clean.skipped, usable(clean).length).status, 'pass');

    writeTree(dir, { 'bag/cut.jpg': await truncatedJpeg(), 'dress/empty.png': Buffer.alloc(0) });
    const dataset = await load(dir);
    const result = checkCorruptFiles(dataset.skipped, usable(dataset).length);
    assert.equal(result.status, 'warn');
    assert.equal(result.measured.corrupt, 2);
    assert.match(result.detail, /cut\.jpg/);
    assert.match(result.detail, /empty\.png/);
    assert.ok(result.fix.length > 0);
  });

  it('fails when more than a quarter of the files are broken, and does not count same-class duplicates as corrupt', async () => {
    const dir = copySample({ classes: 2, perClass: 4 });
    for (let i = 0; i < 4; i++) writeTree(dir, { [`bag/cut-${i}.jpg`]: await truncatedJpeg(i + 1) });
    fs.copyFileSync(firstFile(dir, 'dress'), path.join(dir, 'dress', 'copy.png'));
    const dataset = await load(dir);
    const result = checkCorruptFiles(dataset.skipped, usable(dataset).length);
    assert.equal(result.status, 'fail');
    assert.equal(result.measured.corrupt, 4);
    assert.equal(result.measured.files, 12);
  });
});

describe('data.duplicates-across-classes', () => {
  it('passes on the sample', async () => {
    const dataset = await load(copySample({ classes: 4, perClass: 50 }));
    const result = checkDuplicatesAcrossClasses(await fingerprintImages(usable(dataset), 8));
    assert.equal(result.status, 'pass', result.detail);
  });

  it('finds the same file under two labels, and the same picture re-encoded as JPEG at twice the size', async () => {
    const dir = copySample({ classes: 3, perClass: 20 });
    fs.copyFileSync(firstFile(dir, 'bag'), path.join(dir, 'dress', 'bag-copy.png'));
    const sneaker = firstFile(dir, 'sneaker');
    await sharp(sneaker).resize(56, 56).jpeg({ quality: 80 }).toFile(path.join(dir, 'bag', 'sneaker-again.jpg'));
    const dataset = await load(dir);
    const result = checkDuplicatesAcrossClasses(await fingerprintImages(usable(dataset), 8));
    assert.notEqual(result.status, 'pass');
    assert.equal(result.measured.exactPairs, 1, JSON.stringify(result.measured));
    assert.equal(result.measured.nearPairs, 1);
    const examples = JSON.stringify(result.measured.examples);
    assert.ok(examples.includes('bag-copy.png') && examples.includes('sneaker-again.jpg'), examples);
    // 4 of 62 images (6%) in contradicting pairs: above the 5% at which labels are too noisy.
    assert.equal(result.status, 'fail');
  });
});

describe('data.class-imbalance', () => {
  const counts = async (dir: string) => {
    const dataset = await load(dir);
    return countByLabel(usable(dataset), dataset.labels);
  };

  it('passes on balanced classes, warns at 4:1 and fails at 10:1', async () => {
    assert.equal(checkClassImbalance(await counts(copySample({ classes: 3, perClass: 10 }))).status, 'pass');

    const dir = copySample({ classes: 2, perClass: 40 });
    for (const file of fs.readdirSync(path.join(dir, 'dress')).sort().slice(10)) fs.rmSync(path.join(dir, 'dress', file));
    const warned = checkClassImbalance(await counts(dir));
    assert.equal(warned.status, 'warn');
    assert.equal(warned.measured.ratio, 4);
    assert.match(warned.fix, /dress/);

    for (const file of fs.readdirSync(path.join(dir, 'dress')).sort().slice(4)) fs.rmSync(path.join(dir, 'dress', file));
    const failed = checkClassImbalance(await counts(dir));
    assert.equal(failed.status, 'fail');
    assert.equal(failed.measured.smallest, 'dress');
  });
});

describe('data.tiny-or-mixed-mode-images', () => {
  it('warns that the 28 px sample is upscaled 8x to 224, and passes at an input of 96', async () => {
    const dataset = await load(copySample({ classes: 2, perClass: 5 }));
    const fingerprints = await fingerprintImages(usable(dataset), 4);
    const at224 = checkTinyOrMixedModeImages(fingerprints, 224);
    assert.equal(at224.status, 'warn');
    assert.equal(at224.measured.tiny, 10);
    assert.equal(at224.measured.smallestSide, 28);
    assert.equal(checkTinyOrMixedModeImages(fingerprints, 96).status, 'pass');
  });

  it('warns when grayscale, RGBA and CMYK images sit among RGB ones', async () => {
    const dir = copySample({ classes: 2, perClass: 1 });
    for (const label of ['bag', 'dress']) fs.rmSync(path.join(dir, label), { recursive: true });
    const rgb = (seed: number) => noiseImage(64, seed);
    writeTree(dir, {
      'a/1.png': await rgb(1).png().toBuffer(),
      'a/2.png': await rgb(2).png().toBuffer(),
      'b/1.png': await rgb(3).png().toBuffer(),
      'b/2.png': await rgb(4).png().toBuffer(),
    });
    const allRgb = checkTinyOrMixedModeImages(await fingerprintImages(usable(await load(dir)), 4), 224);
    assert.equal(allRgb.status, 'pass', allRgb.detail);
    assert.deepEqual(allRgb.measured.modes, { rgb: 4 });

    writeTree(dir, {
      'a/grey.png': await rgb(5).toColourspace('b-w').png().toBuffer(),
      'b/alpha.png': await rgb(6).ensureAlpha(0.5).png().toBuffer(),
      'b/print.jpg': await rgb(7).toColourspace('cmyk').jpeg().toBuffer(),
    });
    const mixed = checkTinyOrMixedModeImages(await fingerprintImages(usable(await load(dir)), 4), 224);
    assert.equal(mixed.status, 'warn');
    assert.deepEqual(mixed.measured.modes, { rgb: 4, grayscale: 1, rgba: 1, cmyk: 1 });
    assert.match(mixed.detail, /mixed/);
    assert.equal(mixed.measured.tiny, 0);
  });
});
