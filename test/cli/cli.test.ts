import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { copySample } from '../helpers/sample-data';

/** dist/test/cli -> the repository root, where bin/finetune.js finds dist/. */
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(repoRoot, 'bin', 'finetune.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The caller's FINETUNE_* and NODE_ENV would change the outcome: leave them out. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FINETUNE_') && name !== 'NODE_ENV'));
  return { ...env, ...extra };
}

function finetune(args: string[], extraEnv: Record<string, string> = {}): Run {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, env: cleanEnv(extraEnv), encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.error, undefined, `spawn failed: ${String(result.error)}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function describeRun(run: Run): string {
  return `exit ${run.status}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
}

/** A usage, configuration or data error: exit 2, a message on stderr, nothing on stdout. */
function assertExit2(run: Run, ...messageParts: (string | RegExp)[]): void {
  assert.equal(run.status, 2, describeRun(run));
  assert.equal(run.stdout, '', `stdout must stay empty on errors\n${describeRun(run)}`);
  for (const part of messageParts) {
    if (typeof part === 'string') assert.ok(run.stderr.includes(part), `stderr lacks "${part}"\n${describeRun(run)}`);
    else assert.match(run.stderr, part);
  }
}

let workDir: string;

before(() => {
  assert.ok(fs.existsSync(path.join(repoRoot, 'dist', 'src', 'cli', 'main.js')), 'build first (npm test runs tsc)');
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'finetune-cli-'));
});

after(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
});

describe('help', () => {
  test('--help exits 0 and lists the commands', () => {
    const run = finetune(['--help']);
    assert.equal(run.status, 0, describeRun(run));
    for (const command of ['train', 'evaluate', 'predict', 'plan', 'serve', 'config']) {
      assert.match(run.stdout, new RegExp(`^\\s+${command}\\b`, 'm'), `--help does not list ${command}\n${run.stdout}`);
    }
  });

  test('train --help lists --batch-size with its variable FINETUNE_TRAIN_BATCH_SIZE', () => {
    const run = finetune(['train', '--help']);
    assert.equal(run.status, 0, describeRun(run));
    const start = run.stdout.indexOf('--batch-size');
    assert.ok(start >= 0, run.stdout);
    // The option's own help text runs until the next option.
    const next = run.stdout.indexOf('\n  --', start);
    const entry = run.stdout.slice(start, next < 0 ? undefined : next);
    assert.ok(entry.includes('FINETUNE_TRAIN_BATCH_SIZE'), entry);
    assert.ok(entry.includes('train.batchSize'), entry);
    assert.ok(run.stdout.includes('--data'), 'train --help lists --data');
  });

  test('each command offers only the flags it reads: predict has no --epochs or --port, serve has --port, train has no --port', () => {
    const flagsOf = (...command: string[]) => {
      const run = finetune([...command, '--help']);
      assert.equal(run.status, 0, describeRun(run));
      return new Set(run.stdout.match(/--[a-z][a-z-]*/g));
    };
    const predict = flagsOf('predict');
    for (const flag of ['--epochs', '--port', '--learning-rate', '--policy']) assert.ok(!predict.has(flag), `predict offers ${flag}`);
    for (const flag of ['--model', '--top-k', '--batch-size', '--backend', '--env', '--json']) assert.ok(predict.has(flag), `predict lacks ${flag}`);
    assert.ok(flagsOf('serve').has('--port'));
    assert.ok(!flagsOf('serve').has('--epochs'));
    assert.ok(!flagsOf('train').has('--port'));
    assert.ok(flagsOf('config', 'print').has('--port'), 'config print shows every key');
    assertExit2(finetune(['predict', '--model', workDir, '--epochs', '3', 'x.png']), '--epochs');
  });
});

describe('config print', () => {
  test('--json prints exactly one JSON document with the flag value and its origin', () => {
    const run = finetune(['config', 'print', '--json', '--env', 'test', '--batch-size', '16']);
    assert.equal(run.status, 0, describeRun(run));
    let document: any;
    assert.doesNotThrow(() => (document = JSON.parse(run.stdout)), `stdout is not one JSON document:\n${run.stdout}`);
    assert.equal(document.env, 'test');
    assert.equal(document.values.train.batchSize, 16);
    assert.equal(document.origins['train.batchSize'], 'flag --batch-size');
    // configs/test.json sets the backend; the origin must say so.
    assert.equal(document.values.backend, 'wasm');
    assert.match(document.origins.backend, /configs[\\/]test\.json$/);
    assert.equal(document.origins['train.dropout'], 'default');
  });

  test('a FINETUNE_* variable shows up as its origin', () => {
    const run = finetune(['config', 'print', '--json', '--env', 'test'], { FINETUNE_TRAIN_SEED: '7' });
    assert.equal(run.status, 0, describeRun(run));
    const document = JSON.parse(run.stdout);
    assert.equal(document.values.train.seed, 7);
    assert.equal(document.origins['train.seed'], 'env FINETUNE_TRAIN_SEED');
  });

  test('NODE_ENV chooses the environment when --env is not given', () => {
    const run = finetune(['config', 'print', '--json'], { NODE_ENV: 'production' });
    assert.equal(run.status, 0, describeRun(run));
    assert.equal(JSON.parse(run.stdout).env, 'production');
  });

  test('an unknown --env exits 2 listing the environments', () => {
    assertExit2(finetune(['config', 'print', '--env', 'staging']), 'staging', 'production');
  });
});

describe('usage errors exit 2', () => {
  test('an unknown flag', () => {
    assertExit2(finetune(['config', 'print', '--no-such-flag']), '--no-such-flag');
    assertExit2(finetune(['train', '--data', workDir, '--batchsize', '8']), '--batchsize');
  });

  test('an unknown command', () => {
    assertExit2(finetune(['fit', '--data', workDir]), 'fit');
  });

  test('train without --data says --data is missing', () => {
    assertExit2(finetune(['train', '--env', 'test']), '--data');
  });

  test('predict without files', () => {
    assertExit2(finetune(['predict', '--model', workDir]));
  });
});

describe('configuration and data errors exit 2', () => {
  test('train --data on a folder that does not exist', () => {
    const missing = path.join(workDir, 'no-such-folder');
    assertExit2(finetune(['train', '--data', missing, '--env', 'test']), missing, 'does not exist');
  });

  test('FINETUNE_TRAIN_EPOCHS=0 is refused naming train.epochs', () => {
    assertExit2(finetune(['train', '--data', workDir, '--env', 'test'], { FINETUNE_TRAIN_EPOCHS: '0' }), 'train.epochs', 'FINETUNE_TRAIN_EPOCHS');
  });

  test('an invalid flag value is refused naming the key and the value', () => {
    assertExit2(finetune(['config', 'print', '--env', 'test', '--batch-size', '-1']), 'train.batchSize', '-1');
  });

  test('an unknown FINETUNE_ variable is refused naming it', () => {
    assertExit2(finetune(['config', 'print', '--env', 'test'], { FINETUNE_EPOCHS: '3' }), 'FINETUNE_EPOCHS');
  });

  test('predict --model on a folder that does not exist', () => {
    const missing = path.join(workDir, 'no-such-model');
    assertExit2(finetune(['predict', '--model', missing, '--env', 'test', path.join(workDir, 'x.png')]), missing, 'does not exist');
  });
});

describe('doctor', () => {
  const doctor = (data: string) =>
    finetune(['doctor', '--data', data, '--json', '--env', 'test', '--image-size', '96', '--extract-workers', '1', '--cache-dir', path.join(workDir, 'doctor-cache')]);

  test('--json prints one document of checks {name, status, detail, fix, measured} and exits 0 when none fails', () => {
    const run = doctor(copySample({ classes: 3, perClass: 10 }));
    assert.equal(run.status, 0, describeRun(run));
    const document = JSON.parse(run.stdout);
    assert.equal(document.checks.length, 10);
    for (const check of document.checks) {
      assert.match(check.name, /^(data|init|train)\.[a-z-]+$/);
      assert.ok(['pass', 'warn'].includes(check.status), `${check.name}: ${check.status} ${check.detail}`);
      assert.equal(typeof check.detail, 'string');
      assert.equal(typeof check.fix, 'string');
      assert.equal(typeof check.measured, 'object');
    }
    assert.equal(typeof document.checks.find((c: { name: string }) => c.name === 'train.learning-rate-range').measured.suggestedRate, 'number');
    assert.deepEqual(Object.keys(document.summary).sort(), ['fail', 'pass', 'warn']);
  });

  test('a failing check still prints the report, names the check on stderr and exits 1', () => {
    const data = copySample({ classes: 2, perClass: 50 });
    for (const file of fs.readdirSync(path.join(data, 'dress')).sort().slice(5)) fs.rmSync(path.join(data, 'dress', file));
    const run = doctor(data);
    assert.equal(run.status, 1, describeRun(run));
    const imbalance = JSON.parse(run.stdout).checks.find((c: { name: string }) => c.name === 'data.class-imbalance');
    assert.equal(imbalance.status, 'fail');
    assert.equal(imbalance.measured.ratio, 10);
    assert.match(run.stderr, /doctor check failed: data\.class-imbalance/);
  });

  test('without --data exits 2', () => {
    assertExit2(finetune(['doctor', '--env', 'test']), '--data');
  });
});
