import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { UsageError } from '../../src/errors';
import { createRunDirectory } from '../../src/runs/run-directory';
import { lockFileName, lockRun } from '../../src/runs/run-lock';
import { temporaryDir } from '../helpers/sample-data';

const lockModule = JSON.stringify(path.resolve(__dirname, '../../src/runs/run-lock.js'));

describe('one process at a time in a run folder (run.lock)', () => {
  test('a second lock while the first is held is a UsageError naming the holder; after release it is free', () => {
    const run = createRunDirectory(temporaryDir('runs'), 'photos');
    const lock = lockRun(run);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(run.dir, lockFileName), 'utf8')).pid, process.pid);
    assert.throws(() => lockRun(run), (error: unknown) => error instanceof UsageError && error.exitCode === 2 && new RegExp(`Run ${run.id} is in use by process ${process.pid}`).test(error.message));
    lock.release();
    assert.equal(fs.existsSync(path.join(run.dir, lockFileName)), false);
    lockRun(run).release();
  });

  test('another live process holding the run locks this one out', async () => {
    const run = createRunDirectory(temporaryDir('runs'), 'photos');
    const holder = spawn(process.execPath, ['-e', `require(${lockModule}).lockRun(${JSON.stringify(run)}); console.log('locked'); setInterval(() => {}, 1000);`]);
    try {
      await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
      assert.throws(() => lockRun(run), (error: unknown) => error instanceof UsageError && error.message.includes(`in use by process ${holder.pid}`));
    } finally {
      holder.kill();
    }
  });

  test('a lock left by a process that died is taken over', () => {
    const run = createRunDirectory(temporaryDir('runs'), 'photos');
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    fs.writeFileSync(path.join(run.dir, lockFileName), JSON.stringify({ pid: dead, host: os.hostname(), since: '2026-01-01T00:00:00.000Z' }));
    const lock = lockRun(run);
    assert.equal(JSON.parse(fs.readFileSync(path.join(run.dir, lockFileName), 'utf8')).pid, process.pid);
    lock.release();
  });
});
