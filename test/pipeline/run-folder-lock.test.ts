import 'reflect-metadata';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { UsageError } from '../../src/errors';
import { silentLogger } from '../../src/logger';
import { runStages, StageList, type JobStart } from '../../src/pipeline/stage';
import { lockFileName } from '../../src/runs/run-lock';
import { RunFolderStage, type RunFolderInput } from '../../src/stages/run-folder-stage';
import { testConfig, testContainer } from '../helpers/pipeline';
import { copySample } from '../helpers/sample-data';

describe("the train job's run-folder stage holds the run's lock until the job ends", () => {
  const data = copySample({ classes: 2, perClass: 2 });
  const config = testConfig();
  const stage = testContainer(config).get(RunFolderStage);
  const start = () => StageList.start<RunFolderInput & JobStart>().then(stage);
  const owner = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, lockFileName), 'utf8')).pid as number;

  test('a second job on the same run (--resume) is refused while the first runs; the lock goes when the first is disposed', async () => {
    const first = await runStages(start(), { dataDir: data, timings: {} }, { logger: silentLogger });
    const { run } = first.context;
    assert.equal(owner(run.dir), process.pid, 'locked as soon as the folder exists');
    await assert.rejects(runStages(start(), { dataDir: data, resume: run.id, timings: {} }, { logger: silentLogger }), (error: unknown) => {
      assert.ok(error instanceof UsageError, String(error));
      assert.match(error.message, new RegExp(`Run ${run.id} is in use by process ${process.pid}`));
      return true;
    });
    first.dispose();
    assert.equal(fs.existsSync(path.join(run.dir, lockFileName)), false);
    const resumed = await runStages(start(), { dataDir: data, resume: run.id, timings: {} }, { logger: silentLogger });
    assert.equal(owner(run.dir), process.pid);
    resumed.dispose();
  });

  test('a job that fails after the run folder releases its lock', async () => {
    let runDir = '';
    const failing = { name: 'failing', run: async ({ run }: { run: { dir: string } }) => { runDir = run.dir; throw new Error('later stage failed'); } };
    await assert.rejects(runStages(start().then(failing), { dataDir: data, timings: {} }, { logger: silentLogger }), /later stage failed/);
    assert.ok(runDir);
    assert.equal(fs.existsSync(path.join(runDir, lockFileName)), false);
  });
});
