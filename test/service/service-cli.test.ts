import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FINETUNE_') && name !== 'NODE_ENV'));

function finetune(args: string[], extra: Record<string, string> = {}) {
  const run = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'finetune.js'), ...args], { cwd: repoRoot, env: { ...env, ...extra }, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('service commands: usage and secrets', () => {
  test('worker and api need --redis; the API refuses a non-loopback address without a token', () => {
    const worker = finetune(['worker']);
    assert.equal(worker.status, 2, worker.stderr);
    assert.match(worker.stderr, /Missing --redis URL/);
    const api = finetune(['api', '--redis', 'redis://127.0.0.1:1', '--api-host', '0.0.0.0']);
    assert.equal(api.status, 2, api.stderr);
    assert.match(api.stderr, /Refusing to serve the job API on 0\.0\.0\.0 without a bearer token/);
    const badUrl = finetune(['worker', '--redis', 'http://127.0.0.1:6379']);
    assert.equal(badUrl.status, 2, badUrl.stderr);
    assert.match(badUrl.stderr, /Expected a Redis URL/);
  });

  test('config print never shows the token', () => {
    const run = finetune(['config', 'print', '--json', '--env', 'test'], { FINETUNE_SERVICE_TOKEN: 'secret-secret-secret' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).values.service.token, '[redacted]');
    assert.doesNotMatch(run.stdout, /secret-secret/);
  });
});
