import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatHuman } from '../../src/cli/format-human';

describe('formatHuman doctor', () => {
  it('prints one aligned line per check with PASS/WARN/FAIL, the fix under what did not pass, and a summary', () => {
    const text = formatHuman('doctor', {
      checks: [
        { name: 'data.corrupt-files', status: 'pass', detail: 'all 20 image files decode', fix: '', measured: {} },
        { name: 'train.overfits-ten-samples', status: 'fail', detail: 'loss stayed at 1.1', fix: 'check the gradients', measured: {} },
      ],
      summary: { pass: 1, warn: 0, fail: 1 },
      timings: { total_s: 3.21 },
    });
    const lines = text.split('\n');
    assert.equal(lines[0], 'PASS  data.corrupt-files          all 20 image files decode');
    assert.equal(lines[1], 'FAIL  train.overfits-ten-samples  loss stayed at 1.1');
    assert.equal(lines[2], `${' '.repeat(34)}fix: check the gradients`);
    assert.equal(lines[3], '1 passed, 0 warned, 1 failed (3.2 s)');
  });
});
