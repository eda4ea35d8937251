import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DoctorInputs } from '../../src/doctor/doctor-inputs';
import { countStatuses, doctorChecks, runDoctorChecks } from '../../src/doctor/run-checks';
import { silentLogger } from '../../src/logger';

describe('doctor checks runner', () => {
  it('lists the ten checks, each named <stage>.<what it tests>', () => {
    assert.deepEqual(
      doctorChecks.map((check) => check.name),
      [
        'data.corrupt-files',
        'data.duplicates-across-classes',
        'data.class-imbalance',
        'data.tiny-or-mixed-mode-images',
        'train.finite-inputs-and-first-steps',
        'init.loss-near-ln-classes',
        'train.overfits-ten-samples',
        'train.learning-rate-range',
        'train.generalization-gap',
        'train.prediction-spread',
      ],
    );
  });

  it('reports a check that throws as failed, with its message, and still runs the others', async () => {
    const results = await runDoctorChecks({} as DoctorInputs, silentLogger, [
      { name: 'test.throws', run: async () => { throw new Error('features missing'); } },
      { name: 'test.passes', run: async () => ({ name: 'test.passes', status: 'pass', detail: 'fine', fix: '', measured: {} }) },
    ]);
    assert.deepEqual(results.map((r) => [r.name, r.status]), [['test.throws', 'fail'], ['test.passes', 'pass']]);
    assert.match(results[0].detail, /features missing/);
    assert.ok(results.every((r) => typeof r.seconds === 'number'));
    assert.deepEqual(countStatuses(results), { pass: 1, warn: 0, fail: 1 });
  });
});
