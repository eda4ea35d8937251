import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom, shuffledIndices } from '../../src/train/seeded-random';

const draw = (random: () => number, n: number): number[] => Array.from({ length: n }, () => random());

describe('seededRandom', () => {
  test('the same seed gives the same sequence', () => {
    assert.deepEqual(draw(seededRandom(42), 1000), draw(seededRandom(42), 1000));
  });

  test('different seeds give different sequences', () => {
    const a = draw(seededRandom(42), 100);
    const b = draw(seededRandom(43), 100);
    const c = draw(seededRandom(0), 100);
    assert.notDeepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.ok(a.filter((x, i) => x === b[i]).length < 3, 'sequences of neighbouring seeds share almost no values');
  });

  test('values lie in [0, 1), look uniform and do not repeat', () => {
    const values = draw(seededRandom(7), 20_000);
    assert.ok(values.every((x) => x >= 0 && x < 1));
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
    const deciles = Array.from({ length: 10 }, () => 0);
    for (const x of values) deciles[Math.floor(x * 10)] += 1;
    for (const count of deciles) assert.ok(Math.abs(count - 2000) < 200, `deciles ${deciles}`);
    assert.ok(new Set(values).size > 19_900, 'a generator stuck in a short cycle repeats values');
  });
});

describe('seeded random state', () => {
  test('a saved state continues the sequence exactly where it was saved', () => {
    const random = seededRandom(99);
    draw(random, 17);
    const saved = random.getState();
    const expected = draw(random, 50);
    const other = seededRandom(1);
    other.setState(JSON.parse(JSON.stringify(saved)));
    assert.deepEqual(draw(other, 50), expected);
  });

  test('refuses a state that is no 32-bit unsigned integer', () => {
    const random = seededRandom(1);
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) {
      assert.throws(() => random.setState(bad), /Received random state .*\. Expected an integer in \[0, 2\^32\)\./);
    }
  });
});

describe('shuffledIndices', () => {
  test('is a permutation of 0..n-1', () => {
    for (const n of [0, 1, 2, 10, 257]) {
      const order = shuffledIndices(n, seededRandom(n));
      assert.equal(order.length, n);
      assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
    }
  });

  test('actually shuffles, repeatably with the seed', () => {
    const identity = Array.from({ length: 100 }, (_, i) => i);
    const a = shuffledIndices(100, seededRandom(1));
    assert.notDeepEqual(a, identity);
    assert.ok(a.filter((v, i) => v === i).length < 10, 'few elements stay in place');
    assert.deepEqual(shuffledIndices(100, seededRandom(1)), a);
    assert.notDeepEqual(shuffledIndices(100, seededRandom(2)), a);
  });

  test('successive shuffles from one generator differ (a fresh order every epoch)', () => {
    const random = seededRandom(5);
    const first = shuffledIndices(50, random);
    const second = shuffledIndices(50, random);
    assert.notDeepEqual(first, second);
  });

  test('every position is reachable: the first element is spread evenly', () => {
    const random = seededRandom(11);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 8000; i++) counts[shuffledIndices(4, random)[0]] += 1;
    for (const count of counts) assert.ok(Math.abs(count - 2000) < 200, `first-element counts ${counts}`);
  });
});
