import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DataError } from '../../src/errors';
import { summarizeRun } from '../../src/report/run-summary';
import { reportDataPath } from '../../src/report/write-report';
import { appendEpochRecord, createRunDirectory, writeRunConfig } from '../../src/runs/run-directory';
import { temporaryDir } from '../helpers/sample-data';

function runWithReportData(text: string) {
  const runsDir = temporaryDir('runs');
  const run = createRunDirectory(runsDir, 'photos');
  writeRunConfig(run, { values: { export: { name: 'photos' } } });
  appendEpochRecord(run, { phase: 'head', epoch: 0, valAccuracy: 0.5 });
  fs.writeFileSync(reportDataPath(run), text);
  return { runsDir, run };
}

describe('finetune report on a damaged run folder', () => {
  it('a truncated report-data.json is a DataError saying what was received and how to recover, not a SyntaxError', async () => {
    const { runsDir, run } = runWithReportData('{"formatVersion":1,"runId":"x","epochs":[{"phase":"he');
    await assert.rejects(summarizeRun(runsDir, run.id), (error: unknown) => {
      assert.ok(error instanceof DataError, `expected a DataError, got ${String(error)}`);
      assert.equal(error.exitCode, 2);
      assert.match(error.message, new RegExp(`${path.basename(reportDataPath(run))} cannot be read \\(.*JSON.*; received 53 bytes\\)`));
      assert.match(error.message, /cut short or changed/);
      assert.match(error.message, new RegExp(`Delete it to rebuild the report from the run's metrics\\.jsonl: finetune report ${run.id} --render`));
      return true;
    });
  });

  it('following the advice works: without report-data.json the report is rebuilt from metrics.jsonl', async () => {
    const { runsDir, run } = runWithReportData('{');
    fs.rmSync(reportDataPath(run));
    const summary = await summarizeRun(runsDir, run.id);
    assert.deepEqual(summary.epochs, { head: 1 });
  });

  it('JSON without an epochs list is refused the same way', async () => {
    const { runsDir, run } = runWithReportData('{"formatVersion":1}');
    await assert.rejects(summarizeRun(runsDir, run.id), (error: unknown) => error instanceof DataError && /no "epochs" list/.test(error.message));
  });
});
