import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { copySample, temporaryDir } from '../helpers/sample-data';

/** dist/test/cli -> the repository root, where bin/finetune.js finds dist/. */
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(repoRoot, 'bin', 'finetune.js');
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FINETUNE_') && name !== 'NODE_ENV'));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function finetune(args: string[]): Run {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.error, undefined, `spawn failed: ${String(result.error)}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const describeRun = (run: Run) => `exit ${run.status}\n--- stdout\n${run.stdout.slice(0, 2000)}\n--- stderr\n${run.stderr.slice(-3000)}`;

/** Starts `finetune` and sends SIGINT once `trigger` shows up on stderr. */
function interruptWhen(args: string[], trigger: RegExp): Promise<Run & { signalled: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (!signalled && trigger.test(stderr)) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, signalled });
    });
  });
}

/** All float32 values of an export's weight files. */
function exportWeights(dir: string): Float32Array {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).weightsManifest as { paths: string[] }[];
  const buffers = manifest.flatMap((group) => group.paths.map((file) => fs.readFileSync(path.join(dir, file))));
  const all = Buffer.concat(buffers);
  return new Float32Array(all.buffer, all.byteOffset, all.byteLength / 4);
}

describe('finetune train: Ctrl-C, --resume and an absurd learning rate', () => {
  let data: string;
  let cache: string;
  // Many cheap head epochs, so that the interrupt lands in the middle of training.
  const training = ['--env', 'test', '--epochs', '150', '--patience', '150', '--json'];

  before(() => {
    data = copySample({ classes: 3, perClass: 20 });
    cache = temporaryDir('cache');
  });

  test('Ctrl-C saves a checkpoint and exits 130 saying how to resume; --resume ends where the uninterrupted run ends', async () => {
    const whole = finetune(['train', '--data', data, ...training, '--cache-dir', cache, '--out', temporaryDir('exports'), '--runs-dir', temporaryDir('runs')]);
    assert.equal(whole.status, 0, describeRun(whole));
    const expected = JSON.parse(whole.stdout);

    const runsDir = temporaryDir('runs');
    const interrupted = await interruptWhen(['train', '--data', data, ...training, '--cache-dir', cache, '--out', temporaryDir('exports'), '--runs-dir', runsDir], /head epoch 1\//);
    assert.ok(interrupted.signalled, describeRun(interrupted));
    assert.equal(interrupted.status, 130, describeRun(interrupted));
    assert.equal(interrupted.stdout, '', 'no result on stdout');
    const hint = interrupted.stderr.match(/interrupted: Training was interrupted during epoch (\d+); the checkpoint after epoch (\d+) is in .*head\.ckpt\. Resume with: finetune train --resume (\S+) --runs-dir (\S+)/);
    assert.ok(hint, describeRun(interrupted));
    const [, stoppedIn, checkpointed, runId, hintedRunsDir] = hint;
    assert.equal(Number(checkpointed), Number(stoppedIn) - 1);
    assert.ok(Number(stoppedIn) < 150, 'stopped before the end');
    assert.equal(hintedRunsDir, runsDir);
    assert.ok(fs.existsSync(path.join(runsDir, runId, 'checkpoint', 'head.ckpt')));
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(runsDir, runId, 'run.json'), 'utf8')).dataDir, data);

    const resumed = finetune(['train', '--resume', runId, '--runs-dir', runsDir, '--json']);
    assert.equal(resumed.status, 0, describeRun(resumed));
    assert.match(resumed.stderr, new RegExp(`resuming run ${runId}`));
    const result = JSON.parse(resumed.stdout);
    assert.equal(result.training.resumed, true);
    assert.equal(result.runId, runId);
    assert.ok(Math.abs(result.metrics.val.loss - expected.metrics.val.loss) <= 1e-6, `val loss ${result.metrics.val.loss} vs ${expected.metrics.val.loss}`);
    assert.equal(result.metrics.val.accuracy, expected.metrics.val.accuracy);
    // Every epoch is in the run's metrics.jsonl once, and the last one matches the uninterrupted run's.
    const lines = (dir: string) => fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    const resumedLines = lines(path.join(runsDir, runId));
    const wholeLines = lines(expected.runDir);
    assert.deepEqual(resumedLines.map((line) => line.epoch), wholeLines.map((line) => line.epoch));
    resumedLines.forEach((line, i) => assert.ok(Math.abs(line.valLoss - wholeLines[i].valLoss) <= 1e-6, `epoch ${i}: ${line.valLoss} vs ${wholeLines[i].valLoss}`));
    const a = exportWeights(expected.exportDir);
    const b = exportWeights(result.exportDir);
    assert.equal(a.length, b.length);
    let largest = 0;
    for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i] - b[i]));
    assert.ok(largest <= 1e-6, `exported weights differ by up to ${largest}`);
  });

  test('--learning-rate 1e6 ends with finite weights and reports its warnings and recoveries in the result and the metadata', () => {
    const run = finetune(['train', '--data', data, '--env', 'test', '--json', '--learning-rate', '1e6', '--cache-dir', cache, '--out', temporaryDir('exports'), '--runs-dir', temporaryDir('runs')]);
    assert.equal(run.status, 0, describeRun(run));
    const result = JSON.parse(run.stdout);
    assert.ok(Number.isFinite(result.metrics.val.loss));
    assert.ok(exportWeights(result.exportDir).every(Number.isFinite), 'finite exported weights');
    const metadata = JSON.parse(fs.readFileSync(path.join(result.exportDir, 'metadata.json'), 'utf8'));
    const phase = metadata.training.phases[0];
    assert.equal(phase.history[0].learningRate, 1e6, 'the rate in effect is logged');
    assert.deepEqual(phase.warnings.map((w: { kind: string }) => w.kind), result.training.warnings.map((w: { kind: string }) => w.kind));
    assert.deepEqual(phase.recoveries, result.training.recoveries.map(({ phase: _, ...recovery }: { phase: string }) => recovery));
    assert.equal((run.stderr.match(/^warning: /gm) ?? []).length, result.training.warnings.length, 'every warning is logged');
  });

  test('--resume refuses other settings and unknown runs (exit 2)', () => {
    const runsDir = temporaryDir('runs');
    const mixed = finetune(['train', '--resume', 'some-run', '--runs-dir', runsDir, '--epochs', '3']);
    assert.equal(mixed.status, 2, describeRun(mixed));
    assert.match(mixed.stderr, /Received --resume with --epochs\. A resumed run keeps the configuration it started with/);
    const unknown = finetune(['train', '--resume', 'no-such-run', '--runs-dir', runsDir]);
    assert.equal(unknown.status, 2, describeRun(unknown));
    assert.match(unknown.stderr, /No run "no-such-run"/);
  });
});
