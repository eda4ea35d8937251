import 'reflect-metadata';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tar from 'tar';
import { loadConfig } from '../../src/config/load-config';
import { ConfigError } from '../../src/errors';
import { silentLogger } from '../../src/logger';
import { startJobApi, type RunningJobApi } from '../../src/service/start-job-api';
import { startRedis, type TestRedis } from '../helpers/redis-server';
import { copySample, temporaryDir } from '../helpers/sample-data';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FINETUNE_') && name !== 'NODE_ENV'));

/** Runs the CLI without blocking this process (the API answering it lives here). */
function finetune(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'finetune.js'), ...args], { cwd: repoRoot, env: { ...cleanEnv, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('job API: bearer token, data roots and uploaded archives', () => {
  let redis: TestRedis;
  let api: RunningJobApi;
  let jobsDir: string;
  let dataRoot: string;
  const token = 'security-test-token-0123456789';

  const flagsFor = (extra: Record<string, string>) => ({
    redis: redis.url,
    'api-port': '0',
    'jobs-dir': jobsDir,
    'data-roots': dataRoot,
    'max-upload-bytes': String(200_000),
    'max-archive-files': '40',
    'max-archive-bytes': String(150_000),
    ...extra,
  });
  const post = (body: unknown, auth = `Bearer ${token}`) =>
    fetch(`${api.url}/v1/jobs`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const upload = async (archive: string, name = 'uploaded') => {
    const form = new FormData();
    form.set('name', name);
    form.set('config', JSON.stringify({ 'train.epochs': 2 }));
    form.set('archive', await fs.openAsBlob(archive), 'data.tar.gz');
    return fetch(`${api.url}/v1/jobs`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  };
  /** Everything under the jobs folder: a refused upload leaves nothing behind. */
  const jobsFolderEntries = () => fs.readdirSync(jobsDir);

  before(async () => {
    redis = await startRedis();
    jobsDir = temporaryDir('jobs');
    dataRoot = temporaryDir('data-root');
    fs.cpSync(copySample({ classes: 2, perClass: 5 }), path.join(dataRoot, 'inside'), { recursive: true });
    const sources = { env: 'test', environment: { FINETUNE_SERVICE_TOKEN: token }, flags: flagsFor({}) };
    api = await startJobApi(loadConfig(sources).values, sources, silentLogger);
  });

  after(async () => {
    await api?.close();
    await redis?.stop();
  });

  test('without a token the API refuses to listen beyond loopback', async () => {
    const sources = { env: 'test', environment: {}, flags: flagsFor({ 'api-host': '0.0.0.0' }) };
    await assert.rejects(startJobApi(loadConfig(sources).values, sources, silentLogger), (error: Error) => error instanceof ConfigError && /without a bearer token/.test(error.message));
  });

  test('every /v1 route needs the bearer token', async () => {
    for (const auth of ['', 'Bearer wrong-token-wrong-token', `Basic ${token}`]) {
      const response = await fetch(`${api.url}/v1/jobs`, { headers: auth ? { authorization: auth } : {} });
      assert.equal(response.status, 401, auth);
      assert.match(((await response.json()) as { error: string }).error, /bearer token/);
    }
    assert.equal((await post({ name: 'x', data: path.join(dataRoot, 'inside') }, 'Bearer nope')).status, 401);
    assert.equal((await fetch(`${api.url}/v1/jobs`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  });

  test('data folders outside the roots, names that are paths and worker-owned keys are refused', async () => {
    const inside = path.join(dataRoot, 'inside');
    const link = path.join(dataRoot, 'escape');
    fs.symlinkSync(temporaryDir('outside'), link);
    const refused: [unknown, RegExp][] = [
      [{ name: 'x', data: temporaryDir('elsewhere') }, /outside the configured data roots/],
      [{ name: 'x', data: `${inside}/../../` }, /outside the configured data roots/],
      [{ name: 'x', data: link }, /outside the configured data roots/],
      [{ name: '../../etc', data: inside }, /Expected 1-64 letters/],
      [{ name: 'x', data: inside, config: { 'runs.dir': '/tmp' } }, /may not set "runs.dir"/],
      [{ name: 'x', data: inside, config: { 'export.out': '/' } }, /may not set "export.out"/],
      [{ name: 'x', data: inside, config: { 'base.id': '/etc/model' } }, /never by path/],
      [{ name: 'x', data: inside, config: { 'train.epochs': -1 } }, /train.epochs/],
    ];
    for (const [body, message] of refused) {
      const response = await post(body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.match(((await response.json()) as { error: string }).error, message);
    }
    const accepted = await post({ name: 'fine', data: inside, config: { 'train.epochs': 2 } });
    assert.equal(accepted.status, 201);
  });

  test('archives: paths out of the folder, links, too many files or bytes and oversized uploads are refused', async () => {
    const work = temporaryDir('archives');
    const source = path.join(work, 'src');
    fs.cpSync(copySample({ classes: 2, perClass: 5 }), path.join(source, 'data'), { recursive: true });
    fs.writeFileSync(path.join(work, 'outside.txt'), 'x');
    const make = async (name: string, entries: string[], options: Partial<tar.TarOptionsWithAliasesAsyncFile> = {}) => {
      const file = path.join(work, name);
      await tar.c({ gzip: true, file, cwd: source, ...options } as tar.TarOptionsWithAliasesAsyncFile, entries);
      return file;
    };
    const escaping = await make('escaping.tar.gz', ['data', '../outside.txt'], { preservePaths: true });
    fs.symlinkSync('/etc/passwd', path.join(source, 'data', 'passwd'));
    const linked = await make('linked.tar.gz', ['data']);
    fs.rmSync(path.join(source, 'data', 'passwd'));
    for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(source, 'data', `pad-${i}.txt`), '');
    const crowded = await make('crowded.tar.gz', ['data']);
    for (let i = 0; i < 40; i++) fs.rmSync(path.join(source, 'data', `pad-${i}.txt`));
    fs.writeFileSync(path.join(source, 'data', 'zeros.bin'), Buffer.alloc(160_000));
    const bomb = await make('bomb.tar.gz', ['data']);
    fs.rmSync(path.join(source, 'data', 'zeros.bin'));
    fs.writeFileSync(path.join(source, 'data', 'noise.bin'), Buffer.from(Array.from({ length: 250_000 }, (_, i) => (i * 7919) % 251)));
    const oversized = await make('oversized.tar', ['data'], { gzip: false });
    fs.rmSync(path.join(source, 'data', 'noise.bin'));

    const cases: [string, number, RegExp][] = [
      [escaping, 400, /leads out of the folder/],
      [linked, 400, /SymbolicLink/],
      [crowded, 413, /maxArchiveFiles/],
      [bomb, 413, /maxArchiveBytes/],
      [oversized, 413, /maxUploadBytes/],
    ];
    for (const [archive, status, message] of cases) {
      const response = await upload(archive);
      assert.equal(response.status, status, path.basename(archive));
      assert.match(((await response.json()) as { error: string }).error, message, path.basename(archive));
    }
    assert.deepEqual(jobsFolderEntries(), [], 'a refused upload leaves nothing behind');
    assert.ok(!fs.existsSync(path.join(jobsDir, '..', 'outside.txt')));

    const good = await upload(await make('good.tar.gz', ['data']));
    assert.equal(good.status, 201);
    const { id } = (await good.json()) as { id: string };
    const status = (await (await fetch(`${api.url}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { dataDir: string };
    assert.equal(status.dataDir, fs.realpathSync(path.join(jobsDir, id, 'data', 'data')));
    assert.deepEqual(fs.readdirSync(status.dataDir).sort(), fs.readdirSync(path.join(source, 'data')).sort());
  });

  test('finetune submit packs a folder and uploads it; finetune jobs shows the job; a wrong token exits 2', async () => {
    const folder = copySample({ classes: 2, perClass: 5 });
    const submitted = await finetune(['submit', '--upload', folder, '--name', 'from-cli', '--epochs', '3', '--api', api.url, '--json'], { FINETUNE_SERVICE_TOKEN: token });
    assert.equal(submitted.status, 0, submitted.stderr);
    const { id } = JSON.parse(submitted.stdout) as { id: string };
    const shown = await finetune(['jobs', id, '--api', api.url, '--json'], { FINETUNE_SERVICE_TOKEN: token });
    assert.equal(shown.status, 0, shown.stderr);
    const status = JSON.parse(shown.stdout) as { name: string; state: string; config: Record<string, string>; dataDir: string };
    assert.equal(status.name, 'from-cli');
    assert.equal(status.state, 'waiting');
    assert.deepEqual(status.config, { 'train.epochs': '3' });
    assert.deepEqual(fs.readdirSync(status.dataDir).sort(), fs.readdirSync(folder).sort());
    const refused = await finetune(['jobs', '--api', api.url], { FINETUNE_SERVICE_TOKEN: 'not-the-token-at-all' });
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /401: Missing or wrong bearer token/);
  });
});
