import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { copySample, temporaryDir } from '../helpers/sample-data';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(repoRoot, 'bin', 'finetune.js');

/** stderr is a pipe here, as in CI logs and scripts: never a terminal. */
function finetune(args: string[]) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FINETUNE_') && name !== 'NODE_ENV'));
  return spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, env, encoding: 'utf8', timeout: 120_000 });
}

describe('progress when stderr is not a terminal', () => {
  const data = copySample({ classes: 2, perClass: 6 });
  const common = ['--data', data, '--env', 'test', '--cache-dir', temporaryDir('cache'), '--runs-dir', temporaryDir('runs')];

  for (const json of [true, false]) {
    it(`plan${json ? ' --json' : ''} shows progress as plain log lines on stderr, without a bar or control characters`, () => {
      const run = finetune(['plan', ...common, ...(json ? ['--json'] : [])]);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stderr, /^ {2}checking images: 12\/12 files in [\d.]+ s \([\d.]+ files\/s\)$/m);
      assert.ok(!/[\r\x1b]/.test(run.stderr), `control characters on stderr:\n${JSON.stringify(run.stderr)}`);
      if (json) assert.equal(JSON.parse(run.stdout).plan.policy, 'intermediate', 'stdout holds exactly the JSON document');
      else assert.match(run.stdout, /^policy intermediate/);
    });
  }
});
