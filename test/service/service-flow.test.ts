import 'reflect-metadata';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load-config';
import { createContainer } from '../../src/container/container';
import { silentLogger } from '../../src/logger';
import { Queue } from 'bullmq';
import { ModelServer, type RunningServer } from '../../src/serve/model-server';
import { JobClient } from '../../src/service/job-client';
import type { JobEvent } from '../../src/service/job-events';
import { queueNames } from '../../src/service/redis-connection';
import { startJobApi, type RunningJobApi } from '../../src/service/start-job-api';
import { startRedis, type TestRedis } from '../helpers/redis-server';
import { copySample, temporaryDir } from '../helpers/sample-data';

/** dist/test/service -> the repository root, where bin/finetune.js finds dist/. */
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(repoRoot, 'bin', 'finetune.js');
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FINETUNE_') && name !== 'NODE_ENV'));
const lockSeconds = 5;
/** Tiny images, many cheap head epochs (so that a kill lands mid-training), a fixed seed. */
const jobConfig = { 'preprocess.imageSize': 32, 'train.epochs': 80, 'train.patience': 80, 'train.seed': 11 };

interface WorkerProcess {
  child: ChildProcess;
  stderr: () => string;
}

/** All float32 values of an export's weight files. */
function exportWeights(dir: string): Float32Array {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).weightsManifest as { paths: string[] }[];
  const all = Buffer.concat(manifest.flatMap((group) => group.paths.map((file) => fs.readFileSync(path.join(dir, file)))));
  return new Float32Array(all.buffer, all.byteOffset, all.byteLength / 4);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('the service: two workers, the job API over HTTP, a serving instance', { timeout: 600_000 }, () => {
  let redis: TestRedis;
  let api: RunningJobApi;
  let server: RunningServer;
  let client: JobClient;
  let data: string;
  let exportsDir: string;
  const workers: WorkerProcess[] = [];
  let workerFlags: string[] = [];
  const token = 'test-token-0123456789abcdef';

  const startWorker = (flags: string[]): WorkerProcess => {
    const child = spawn(process.execPath, [bin, 'worker', ...flags], { cwd: repoRoot, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const worker = { child, stderr: () => stderr };
    workers.push(worker);
    return worker;
  };
  const pidOf = (worker: string | undefined) => Number(worker?.split(':').at(-1));
  const workerLogs = () => workers.map((w, i) => `--- worker ${i} (pid ${w.child.pid})\n${w.stderr().slice(-3000)}`).join('\n');

  /** Follows a job's events to the end; `onEvent` sees each as it arrives. */
  const followToEnd = async (id: string, onEvent: (event: JobEvent) => void = () => undefined): Promise<JobEvent[]> => {
    const events: JobEvent[] = [];
    await client.follow(id, (event) => {
      events.push(event);
      onEvent(event);
    });
    return events;
  };

  before(async () => {
    redis = await startRedis();
    const dataRoot = temporaryDir('data-root');
    data = path.join(dataRoot, 'fashion');
    fs.cpSync(copySample({ classes: 3, perClass: 20 }), data, { recursive: true });
    exportsDir = temporaryDir('exports');
    const tokenFile = path.join(temporaryDir('token'), 'token');
    fs.writeFileSync(tokenFile, `${token}\n`);
    const flags = {
      redis: redis.url,
      'cache-dir': temporaryDir('cache'),
      'runs-dir': temporaryDir('runs'),
      out: exportsDir,
      'jobs-dir': temporaryDir('jobs'),
      'data-roots': dataRoot,
      'shard-size': '6',
      'lock-seconds': String(lockSeconds),
      'token-file': tokenFile,
      'api-port': '0',
    };
    workerFlags = ['--env', 'test', ...Object.entries(flags).flatMap(([flag, value]) => [`--${flag}`, value])];
    for (let i = 0; i < 2; i++) startWorker(workerFlags);
    const sources = { env: 'test', environment: {}, flags };
    api = await startJobApi(loadConfig(sources).values, sources, silentLogger);
    client = new JobClient(api.url, token);
    fs.mkdirSync(path.join(exportsDir, 'fashion'));
    const serveConfig = loadConfig({ env: 'test', environment: {}, flags: { port: '0', 'poll-seconds': '1', 'inference-thread': 'main' } }).values;
    server = await createContainer(serveConfig, silentLogger).get(ModelServer).start(path.join(exportsDir, 'fashion'));
  });

  after(async () => {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    await server?.close();
    await api?.close();
    await redis?.stop();
  });

  test('a job submitted over HTTP: its shards split over both workers, events in order, the export served', async () => {
    const { id } = await client.submitFolder('fashion', data, jobConfig);
    const events = await followToEnd(id);
    const types: string[] = events.map((event) => event.type);
    assert.equal(types.at(-1), 'completed', `${JSON.stringify(events.filter((e) => e.type !== 'progress').slice(-5))}\n${workerLogs()}`);
    const order = ['queued', 'planned', 'shard', 'epoch', 'completed'].map((type) => types.indexOf(type));
    assert.deepEqual([...order].sort((a, b) => a - b), order, `events out of order: ${types.join(',')}`);
    assert.ok(types.lastIndexOf('shard') < events.findIndex((e) => e.type === 'started' && e.step === 'train'), 'training starts after every shard');
    const ids = events.map((event) => event.id);
    assert.deepEqual([...ids].sort((a, b) => (BigInt(a.split('-')[0]) < BigInt(b.split('-')[0]) ? -1 : 1)), ids, 'event ids increase');

    const shards = events.filter((event): event is Extract<JobEvent, { type: 'shard' }> => event.type === 'shard');
    assert.equal(shards.length, 10, '60 images in shards of 6');
    assert.deepEqual(shards.map((s) => s.index).sort((a, b) => a - b), [...Array(10).keys()]);
    assert.equal(new Set(shards.map((s) => s.worker)).size, 2, `both workers took shards: ${shards.map((s) => s.worker).join(', ')}`);
    const epochs = events.flatMap((event) => (event.type === 'epoch' ? [event.record.epoch as number] : []));
    assert.deepEqual(epochs, [...epochs].sort((a, b) => a - b));
    assert.equal(epochs.length, jobConfig['train.epochs']);
    const progress = events.filter((event): event is Extract<JobEvent, { type: 'progress' }> => event.type === 'progress' && event.stage === 'head');
    assert.ok(progress.length > 1);
    assert.deepEqual(progress.map((p) => p.done), [...progress.map((p) => p.done)].sort((a, b) => a - b), 'progress never goes back');

    const status = await client.status(id);
    assert.equal(status.state, 'completed');
    assert.equal(status.features?.computed, 0, 'training found every feature in the cache the shards filled');
    assert.equal(status.exportDir, path.join(exportsDir, 'fashion', '1'));
    assert.ok(fs.existsSync(path.join(status.exportDir!, 'model.json')));
    await waitFor('the server to serve version 1', () => (server.versions.newestVersion === 1 ? true : undefined), 30_000);
  });

  test('kill -9 of the worker mid-training: the other resumes from the checkpoint and exports what the uninterrupted run did', async (t) => {
    const { id } = await client.submitFolder('fashion', data, jobConfig);
    let killed: string | undefined;
    let killedAt = 0;
    let killedEpoch = 0;
    const events = await followToEnd(id, (event) => {
      if (!killed && event.type === 'epoch' && (event.record.epoch as number) >= 3) {
        killed = event.worker;
        killedAt = Date.now();
        killedEpoch = event.record.epoch as number;
        process.kill(pidOf(killed), 'SIGKILL');
      }
    });
    assert.ok(killed, 'a worker was killed mid-training');
    assert.equal(events.at(-1)?.type, 'completed', `${JSON.stringify(events.filter((e) => e.type !== 'progress').slice(-8))}\n${workerLogs()}`);
    const resumedAt = events.find((event) => event.type === 'started' && event.step === 'train' && event.resumed);
    assert.ok(resumedAt, 'the training step started again, resuming the run');
    assert.notEqual(resumedAt.worker, killed, 'on the other worker');
    const resumedLog = events.find((event) => event.type === 'log' && event.worker === resumedAt.worker && /resum/i.test(event.message) && /checkpoint|epoch/.test(event.message));
    const status = await client.status(id);
    assert.equal(status.resumed, true, JSON.stringify({ status, resumedLog }));
    assert.equal(status.version, 2);
    const epochsAfter = events.slice(events.indexOf(resumedAt)).flatMap((event) => (event.type === 'epoch' ? [event.record.epoch as number] : []));
    assert.ok(epochsAfter.length > 0 && epochsAfter[0] >= 3, `continued from the checkpoint, not from epoch 0: ${epochsAfter.slice(0, 3)}`);
    t.diagnostic(`killed when epoch ${killedEpoch} (0-based) was reported; taken again ${((Date.parse(resumedAt.at) - killedAt) / 1000).toFixed(1)} s later (lock ${lockSeconds} s); first epoch after the resume: ${epochsAfter[0]}`);
    assert.deepEqual(exportWeights(status.exportDir!), exportWeights(path.join(exportsDir, 'fashion', '1')), 'the same weights as the uninterrupted run');
    await waitFor('the server to switch to version 2', () => (server.versions.newestVersion === 2 ? true : undefined), 30_000);
  });

  test('a data error fails once, never retried; cancelling a job stops it', async () => {
    const dataRoot = path.dirname(data);
    const oneClass = path.join(dataRoot, 'one-class');
    fs.cpSync(copySample({ classes: 1, perClass: 10 }), oneClass, { recursive: true });
    const { id } = await client.submitFolder('broken', oneClass, jobConfig);
    const events = await followToEnd(id);
    const failures = events.filter((event) => event.type === 'failed');
    assert.equal(failures.length, 1);
    assert.match(failures[0].type === 'failed' ? failures[0].error : '', /Expected at least 2 class folders/);
    const status = await client.status(id);
    assert.equal(status.state, 'failed');
    assert.equal(status.attempts, 1);

    const long = await client.submitFolder('cancelled', data, { ...jobConfig, 'train.epochs': 2000, 'train.patience': 2000 });
    const cancelledEvents = await followToEnd(long.id, (event) => {
      if (event.type === 'epoch' && event.record.epoch === 1) void client.cancel(long.id);
    });
    const last = cancelledEvents.at(-1);
    assert.equal(last?.type, 'failed');
    assert.equal(last?.type === 'failed' && last.cancelled, true);
    assert.equal((await client.status(long.id)).state, 'cancelled');
  });

  test('redis going away: the worker waits, reconnects and takes the next job', async () => {
    await redis.stop();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.ok(workers.some((w) => w.child.exitCode === null), 'a worker is still running without redis');
    await redis.restart();
    const { id } = await client.submitFolder('after-restart', path.join(path.dirname(data), 'one-class'), jobConfig);
    const events = await followToEnd(id);
    assert.equal(events.at(-1)?.type, 'failed', 'a worker took the job after redis came back');
    assert.ok(events.some((event) => event.type === 'started'));
  });

  test('a worker killed while it extracts a shard: the shard is redone by another and the job completes', async () => {
    const fresh = startWorker(workerFlags);
    await waitFor('the new worker', () => (fresh.stderr().includes('taking jobs') ? true : undefined), 120_000);
    const survivors = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    assert.equal(survivors.length, 2, workerLogs());
    const shardQueue = new Queue(queueNames.shard, { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      // 48x48: other cache keys than the jobs above, so every shard computes.
      const { id } = await client.submitFolder('fashion', data, { ...jobConfig, 'preprocess.imageSize': 48 });
      const victim = survivors.find((w) => w !== fresh)!;
      // Both workers hold a shard (concurrency 1 each): kill the older one.
      const held = await waitFor('both workers to hold a shard', async () => {
        const active = await shardQueue.getActive();
        return active.length >= 2 ? active.map((job) => job.id) : undefined;
      }, 120_000);
      victim.child.kill('SIGKILL');
      const events = await followToEnd(id);
      assert.equal(events.at(-1)?.type, 'completed', `${JSON.stringify(events.filter((e) => e.type !== 'progress').slice(-5))}\n${workerLogs()}`);
      const shards = events.filter((event): event is Extract<JobEvent, { type: 'shard' }> => event.type === 'shard');
      assert.deepEqual([...new Set(shards.map((s) => s.index))].sort((a, b) => a - b), [...Array(10).keys()], 'every shard done');
      const heldShards = shards.filter((s) => held.includes(`${id}-shard-${s.index}`));
      assert.deepEqual(
        heldShards.map((s) => s.worker?.endsWith(`:${fresh.child.pid}`)),
        [true, true],
        `the killed worker's shard was redone by the other: held ${held}, ${JSON.stringify(shards.map((s) => [s.index, s.worker]))}`,
      );
      assert.equal((await client.status(id)).features?.computed, 0);
    } finally {
      await shardQueue.close();
    }
  });
});
