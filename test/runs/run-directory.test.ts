import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DataError } from '../../src/errors';
import { appendEpochRecord, createRunDirectory, openRunDirectory, readEpochRecords, readRunConfig, readRunInfo, writeRunConfig, writeRunInfo } from '../../src/runs/run-directory';
import { temporaryDir } from '../helpers/sample-data';

describe('run directory', () => {
  it('creates a fresh, time-stamped folder per run, even for the same name in the same second', () => {
    const runsDir = temporaryDir('runs');
    const now = new Date('2026-11-27T10:11:12Z');
    const a = createRunDirectory(runsDir, 'my photos', now);
    const b = createRunDirectory(runsDir, 'my photos', now);
    assert.notEqual(a.dir, b.dir);
    assert.match(a.id, /^my_photos-20261127-101112-[0-9a-f]{4}$/);
    assert.equal(path.dirname(a.dir), runsDir);
  });

  it('records epochs line by line and skips a line cut short by a crash', () => {
    const run = createRunDirectory(temporaryDir('runs'), 'flowers');
    appendEpochRecord(run, { phase: 'head', epoch: 0, loss: 1.5 });
    appendEpochRecord(run, { phase: 'head', epoch: 1, loss: 1.2 });
    fs.appendFileSync(run.metricsPath, '{"phase":"head","epo');
    assert.deepEqual(
      readEpochRecords(run).map((r) => [r.epoch, r.loss]),
      [
        [0, 1.5],
        [1, 1.2],
      ],
    );
  });

  it('opens a run by id or by path, and says what it expected when there is none', () => {
    const runsDir = temporaryDir('runs');
    const run = createRunDirectory(runsDir, 'flowers');
    writeRunConfig(run, { train: { epochs: 3 } });
    assert.equal(openRunDirectory(runsDir, run.id).dir, run.dir);
    assert.equal(openRunDirectory('/elsewhere', run.dir).id, run.id);
    assert.throws(() => openRunDirectory(runsDir, 'nope'), (error: Error) => error instanceof DataError && /No run "nope"/.test(error.message) && /config\.json/.test(error.message));
  });

  it('records the data folder in run.json and reads the configuration back for a resume', () => {
    const run = createRunDirectory(temporaryDir('runs'), 'flowers');
    assert.throws(() => readRunInfo(run), (error: Error) => error instanceof DataError && /cannot be resumed/.test(error.message));
    writeRunInfo(run, { dataDir: '/data/flowers', startedAt: '2026-11-27T00:00:00.000Z' });
    assert.deepEqual(readRunInfo(run), { dataDir: '/data/flowers', startedAt: '2026-11-27T00:00:00.000Z' });
    writeRunConfig(run, { env: 'test', values: { train: { epochs: 3 } }, origins: {} });
    assert.deepEqual(readRunConfig(run), { env: 'test', values: { train: { epochs: 3 } } });
    writeRunConfig(run, { train: { epochs: 4 } });
    assert.deepEqual(readRunConfig(run), { values: { train: { epochs: 4 } } }, 'a config.json holding the values themselves');
  });
});
