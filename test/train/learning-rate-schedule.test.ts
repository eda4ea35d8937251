import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ExponentialDecay } from '../../src/train/learning-rate-schedule';

const close = (actual: number, expected: number, message?: string) =>
  assert.ok(Math.abs(actual - expected) <= 1e-12 * Math.max(1, Math.abs(expected)), `${message ?? ''} ${actual} != ${expected}`);

describe('ExponentialDecay', () => {
  test('starts at the initial rate and multiplies by the decay rate every epoch', () => {
    const schedule = new ExponentialDecay(0.02, 0.5);
    close(schedule.rateAt(0), 0.02);
    close(schedule.rateAt(1), 0.01);
    close(schedule.rateAt(2), 0.005);
    close(schedule.rateAt(10), 0.02 / 1024);
  });

  test('decays monotonically; a decay rate of 1 keeps the rate constant', () => {
    const schedule = new ExponentialDecay(0.1, 0.95);
    for (let epoch = 1; epoch < 50; epoch++) assert.ok(schedule.rateAt(epoch) < schedule.rateAt(epoch - 1));
    close(schedule.rateAt(20), 0.1 * 0.95 ** 20);
    const constant = new ExponentialDecay(0.003, 1);
    for (const epoch of [0, 1, 7, 100]) assert.equal(constant.rateAt(epoch), 0.003);
  });

  test('toConfig records its name and settings, and rebuilding from them gives the same rates', () => {
    const schedule = new ExponentialDecay(0.02, 0.9);
    const config = schedule.toConfig();
    assert.deepEqual(config, { name: 'exponentialDecay', initialRate: 0.02, decayRate: 0.9 });
    // The config is written into export metadata as JSON: round trip through it.
    const restored = JSON.parse(JSON.stringify(config));
    const rebuilt = new ExponentialDecay(restored.initialRate, restored.decayRate);
    for (let epoch = 0; epoch < 30; epoch++) assert.equal(rebuilt.rateAt(epoch), schedule.rateAt(epoch));
    assert.deepEqual(rebuilt.toConfig(), config);
  });

  const invalid: [number, number, RegExp][] = [
    [0, 0.9, /Received initialRate=0\. Expected a number > 0\./],
    [-0.01, 0.9, /Received initialRate=-0\.01\. Expected a number > 0\./],
    [Number.NaN, 0.9, /Received initialRate=NaN\. Expected/],
    [0.01, 0, /Received decayRate=0\. Expected a number in \(0, 1\]\./],
    [0.01, 1.5, /Received decayRate=1\.5\. Expected a number in \(0, 1\]\./],
    [0.01, -0.5, /Received decayRate=-0\.5\. Expected/],
    [0.01, Number.NaN, /Received decayRate=NaN\. Expected/],
  ];
  for (const [initialRate, decayRate, message] of invalid) {
    test(`refuses initialRate=${initialRate}, decayRate=${decayRate} saying what was received and expected`, () => {
      assert.throws(() => new ExponentialDecay(initialRate, decayRate), message);
    });
  }
});
