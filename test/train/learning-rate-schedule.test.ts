import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildSchedule, CosineDecay, ExponentialDecay, LinearWarmup, scheduleFromConfig, StepDecay } from '../../src/train/learning-rate-schedule';

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

describe('StepDecay, CosineDecay, LinearWarmup', () => {
  test('StepDecay drops by the factor every stepSize epochs', () => {
    const schedule = new StepDecay(0.1, 3, 0.5);
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 9].map((epoch) => schedule.rateAt(epoch)),
      [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.0125],
    );
  });

  test('CosineDecay follows half a cosine from the initial to the minimum rate, then stays there', () => {
    const schedule = new CosineDecay(0.1, 10, 0.001);
    close(schedule.rateAt(0), 0.1);
    close(schedule.rateAt(5), 0.001 + 0.099 * 0.5, 'halfway');
    close(schedule.rateAt(10), 0.001);
    close(schedule.rateAt(25), 0.001);
    for (let epoch = 1; epoch <= 10; epoch++) assert.ok(schedule.rateAt(epoch) < schedule.rateAt(epoch - 1));
  });

  test('LinearWarmup rises to the first rate, then runs the schedule from its start', () => {
    const schedule = new LinearWarmup(new CosineDecay(0.2, 8), 3);
    close(schedule.rateAt(0), 0.05);
    close(schedule.rateAt(1), 0.1);
    close(schedule.rateAt(2), 0.15);
    close(schedule.rateAt(3), 0.2);
    close(schedule.rateAt(7), new CosineDecay(0.2, 8).rateAt(4));
  });

  test('buildSchedule reads the train.* settings; cosine decays over the epochs after the warmup', () => {
    const settings = { initialRate: 0.01, epochs: 12, decayRate: 0.9, stepSize: 4, stepFactor: 0.1, warmupEpochs: 0 };
    assert.deepEqual(buildSchedule({ ...settings, name: 'exponential' }).toConfig(), { name: 'exponentialDecay', initialRate: 0.01, decayRate: 0.9 });
    assert.deepEqual(buildSchedule({ ...settings, name: 'step' }).toConfig(), { name: 'stepDecay', initialRate: 0.01, stepSize: 4, factor: 0.1 });
    assert.deepEqual(buildSchedule({ ...settings, name: 'cosine', warmupEpochs: 2 }).toConfig(), {
      name: 'linearWarmup',
      warmupEpochs: 2,
      schedule: { name: 'cosineDecay', initialRate: 0.01, epochs: 10, minRate: 0 },
    });
  });

  test('every schedule round-trips through JSON and scheduleFromConfig', () => {
    const schedules = [new ExponentialDecay(0.01, 0.9), new StepDecay(0.3, 2, 0.25), new CosineDecay(0.05, 7, 0.001), new LinearWarmup(new StepDecay(0.1, 5, 0.5), 4)];
    for (const schedule of schedules) {
      const config = JSON.parse(JSON.stringify(schedule.toConfig()));
      const rebuilt = scheduleFromConfig(config);
      assert.deepEqual(rebuilt.toConfig(), schedule.toConfig());
      for (let epoch = 0; epoch < 20; epoch++) assert.equal(rebuilt.rateAt(epoch), schedule.rateAt(epoch), `${config.name} epoch ${epoch}`);
    }
    assert.throws(() => scheduleFromConfig({ name: 'triangular' }), /Received schedule name "triangular"\. Expected exponentialDecay, stepDecay, cosineDecay or linearWarmup\./);
  });

  test('invalid settings say what was received and what was expected', () => {
    assert.throws(() => new StepDecay(0.1, 0, 0.5), /Received stepSize=0\. Expected a positive integer\./);
    assert.throws(() => new StepDecay(0.1, 2, 1.5), /Received factor=1\.5\. Expected a number in \(0, 1\]\./);
    assert.throws(() => new CosineDecay(0.1, 2.5), /Received epochs=2\.5\. Expected a positive integer\./);
    assert.throws(() => new CosineDecay(0.1, 5, 0.2), /Received minRate=0\.2\. Expected a number in \[0, initialRate=0\.1\)\./);
    assert.throws(() => new LinearWarmup(new StepDecay(0.1, 2, 0.5), -1), /Received warmupEpochs=-1\. Expected an integer >= 0\./);
  });
});
