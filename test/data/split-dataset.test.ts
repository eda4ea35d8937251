import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import type { ImageRecord } from '../../src/data/dataset';
import { hashPosition, splitByContentHash } from '../../src/data/split-dataset';
import { seededRandom } from '../../src/train/seeded-random';

// Synthetic records: content hashes are SHA-256 of seed strings, so they are uniform but the tests are repeatable.
const hashOf = (seed: string) => createHash('sha256').update(seed).digest('hex');
const record = (label: string, sha256: string, name = sha256.slice(0, 12)): ImageRecord => ({ path: `/data/${label}/${name}.jpg`, label, sha256 });
const makeClass = (label: string, count: number, seed = label) => Array.from({ length: count }, (_, i) => record(label, hashOf(`${seed}-${i}`)));

/** Hashes whose position is at least (or below) the fraction: they stay out of (or go into) val by threshold alone. */
function hashesWhere(count: number, predicate: (position: number) => boolean, seed: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const sha = hashOf(`${seed}:${i}`);
    if (predicate(hashPosition(sha))) out.push(sha);
  }
  return out;
}

/** Where each record went, by path. */
function placement(split: { train: ImageRecord[]; val: ImageRecord[] }): Map<string, 'train' | 'val'> {
  const out = new Map<string, 'train' | 'val'>();
  for (const r of split.train) out.set(r.path, 'train');
  for (const r of split.val) {
    assert.ok(!out.has(r.path), `${r.path} is in both splits`);
    out.set(r.path, 'val');
  }
  return out;
}


describe('hashPosition', () => {
  test('is a deterministic position in [0, 1) read from the hash', () => {
    assert.equal(hashPosition('0'.repeat(64)), 0);
    assert.ok(hashPosition('f'.repeat(64)) < 1);
    assert.ok(hashPosition('f'.repeat(64)) > 0.999);
    assert.ok(Math.abs(hashPosition('8' + '0'.repeat(63)) - 0.5) < 1e-12);
    const sha = hashOf('x');
    assert.equal(hashPosition(sha), hashPosition(sha));
  });
});

describe('splitByContentHash: stratification', () => {
  for (const fraction of [0.2, 0.5]) {
    test(`each class gets about ${fraction} of its images in val`, () => {
      const sizes = { cats: 400, dogs: 250, birds: 120 };
      const records = Object.entries(sizes).flatMap(([label, count]) => makeClass(label, count));
      const split = splitByContentHash(records, fraction);
      assert.equal(split.train.length + split.val.length, records.length, 'nothing lost or duplicated');
      assert.equal(placement(split).size, records.length);
      for (const [label, count] of Object.entries(sizes)) {
        const val = split.val.filter((r) => r.label === label).length;
        const share = val / count;
        // Binomial spread at these sizes is under 0.05 (1 sigma); 0.1 leaves room while catching a broken split.
        assert.ok(Math.abs(share - fraction) < 0.1, `${label}: ${val}/${count} in val, expected about ${fraction}`);
        assert.ok(split.train.some((r) => r.label === label), `${label} keeps training images`);
      }
    });
  }

  test('an image is in val exactly when its hash position is below the fraction (large classes)', () => {
    const records = [...makeClass('a', 200), ...makeClass('b', 200)];
    const placed = placement(splitByContentHash(records, 0.3));
    for (const r of records) assert.equal(placed.get(r.path), hashPosition(r.sha256) < 0.3 ? 'val' : 'train', r.path);
  });

  test('a class whose hashes all lie at or above the fraction gets no val image: stability wins', () => {
    const fraction = 0.2;
    const highs = hashesWhere(4, (p) => p >= fraction, 'all-high');
    const split = splitByContentHash([...highs.map((sha) => record('small', sha)), ...makeClass('big', 100)], fraction);
    assert.equal(split.val.filter((r) => r.label === 'small').length, 0);
    assert.equal(split.train.filter((r) => r.label === 'small').length, 4);
  });

  test('a class with a single image keeps it in train when its hash is above the fraction', () => {
    const [sha] = hashesWhere(1, (p) => p >= 0.2, 'single');
    const split = splitByContentHash([record('solo', sha), ...makeClass('big', 100)], 0.2);
    assert.ok(split.train.some((r) => r.label === 'solo'));
    assert.ok(!split.val.some((r) => r.label === 'solo'));
  });
});

describe('splitByContentHash: stability', () => {
  test('adding records never moves an old record between train and val', () => {
    const fraction = 0.2;
    const next = seededRandom(42);
    const labels = ['cats', 'dogs', 'birds', 'fish'];
    let records = labels.flatMap((label) => makeClass(label, 60));
    let before = placement(splitByContentHash(records, fraction));
    let added = 0;
    for (let round = 0; round < 150; round++) {
      const count = 1 + Math.floor(next() * 12);
      for (let i = 0; i < count; i++) {
        // Mostly existing classes, sometimes a new one; in existing classes sometimes a copy of an existing image
        // (same bytes). Copies into small new classes are the known gap tested below.
        const newClass = next() >= 0.9;
        const label = newClass ? `new${round}` : labels[Math.floor(next() * labels.length)];
        const sha = !newClass && next() < 0.1 ? records[Math.floor(next() * records.length)].sha256 : hashOf(`added-${round}-${i}`);
        records = [...records, record(label, sha, `added-${round}-${i}`)];
        added++;
      }
      const after = placement(splitByContentHash(records, fraction));
      for (const [file, split] of before) assert.equal(after.get(file), split, `round ${round}: ${file} moved`);
      before = after;
    }
    assert.ok(added > 500);
  });

  test('the result does not depend on the order of the records', () => {
    const records = [...makeClass('a', 150), ...makeClass('b', 150), ...makeClass('tiny', 3)];
    const forward = placement(splitByContentHash(records, 0.25));
    const backward = placement(splitByContentHash([...records].reverse(), 0.25));
    assert.deepEqual([...backward].sort(), [...forward].sort());
  });

  test('identical content hashes always land in the same split, within and across classes', () => {
    const records: ImageRecord[] = [];
    const shared = [...hashesWhere(10, (p) => p < 0.2, 'shared-low'), ...hashesWhere(10, (p) => p >= 0.2, 'shared-high')];
    for (const label of ['a', 'b', 'c']) {
      records.push(...makeClass(label, 80));
      shared.forEach((sha, i) => records.push(record(label, sha, `shared-${i}`)));
    }
    // A small class whose images all hash below the fraction keeps its highest one in train; its copy elsewhere follows.
    const [kept, other] = hashesWhere(2, (p) => p < 0.2, 'kept').sort((x, y) => hashPosition(y) - hashPosition(x));
    records.push(record('small', kept), record('small', other), record('a', kept, 'kept-copy'));
    const split = splitByContentHash(records, 0.2);
    const where = new Map<string, Set<string>>();
    for (const [list, name] of [[split.train, 'train'], [split.val, 'val']] as const) {
      for (const r of list) where.set(r.sha256, (where.get(r.sha256) ?? new Set()).add(name));
    }
    for (const [sha, splits] of where) assert.equal(splits.size, 1, `${sha.slice(0, 12)} is in ${[...splits].join(' and ')}`);
    assert.ok(split.train.some((r) => r.path.endsWith('kept-copy.jpg')), 'the copy follows the kept image into train');
  });
});

describe('splitByContentHash: fraction 0', () => {
  test('puts everything in train, small classes included', () => {
    const records = [...makeClass('a', 50), ...makeClass('b', 2), ...makeClass('c', 1)];
    const split = splitByContentHash(records, 0);
    assert.deepEqual(split.val, []);
    assert.deepEqual(split.train.map((r) => r.path).sort(), records.map((r) => r.path).sort());
  });
});

describe('splitByContentHash: small classes and copies', () => {
  test('stability in a small class: adding a low-hash image moves no old image', () => {
    const fraction = 0.2;
    const [high1, high2] = hashesWhere(2, (p) => p >= fraction, 'gap-high');
    const [low] = hashesWhere(1, (p) => p < fraction, 'gap-low');
    const old = [record('small', high1), record('small', high2), ...makeClass('big', 100)];
    const before = placement(splitByContentHash(old, fraction));
    const after = placement(splitByContentHash([...old, record('small', low)], fraction));
    for (const [file, split] of before) assert.equal(after.get(file), split, `${file} moved`);
  });

  test('stability across classes: a new class holding a copy of an old image does not move the old image', () => {
    const fraction = 0.2;
    const [shared, higher] = hashesWhere(2, (p) => p >= fraction, 'copy-gap').sort((x, y) => hashPosition(x) - hashPosition(y));
    const old = [...makeClass('big', 100), record('big', shared, 'old-copy')];
    const before = placement(splitByContentHash(old, fraction));
    assert.equal(before.get('/data/big/old-copy.jpg'), 'train');
    const after = placement(splitByContentHash([...old, record('newclass', shared), record('newclass', higher)], fraction));
    assert.equal(after.get('/data/big/old-copy.jpg'), 'train', 'old-copy moved to val');
  });

  test('a class with at least 2 images keeps at least one training image', () => {
    const lows = hashesWhere(2, (p) => p < 0.2, 'all-low');
    const split = splitByContentHash([record('small', lows[0]), record('small', lows[1]), ...makeClass('big', 100)], 0.2);
    assert.ok(split.train.some((r) => r.label === 'small'), 'small has a training image');
  });
});
