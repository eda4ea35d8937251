#!/usr/bin/env node
/**
 * Distributed extraction over 1, 2, 4 ... `finetune worker` processes on this machine: for each
 * count, a fresh redis-server, a fresh feature cache and that many workers (one extraction thread
 * each); one job over the data folder, split into shards; the time from the plan to the last shard
 * (every image's frozen features computed once, by whichever worker took its shard). Prints one
 * JSON document. Needs `npm run build` and /usr/bin/redis-server.
 *
 *   node scripts/service-scale.js --data DIR [--workers 1,2,4] [--image-size 96] [--shard-size 50] [--repeat 1]
 */
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist', 'src');
require('reflect-metadata');
const { loadConfig } = require(path.join(dist, 'config', 'load-config'));
const { silentLogger } = require(path.join(dist, 'logger'));
const { JobClient } = require(path.join(dist, 'service', 'job-client'));
const { startJobApi } = require(path.join(dist, 'service', 'start-job-api'));

function flag(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
}

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitUntil(check, what, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** User + system CPU seconds a process used so far (all its threads), from /proc. */
function cpuSecondsOf(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function measure(workers, data, options) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'finetune-scale-'));
  const port = await freePort();
  const redis = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const children = [];
  let api;
  try {
    const flags = {
      redis: `redis://127.0.0.1:${port}`,
      'cache-dir': path.join(dir, 'cache'),
      'runs-dir': path.join(dir, 'runs'),
      out: path.join(dir, 'exports'),
      'jobs-dir': path.join(dir, 'jobs'),
      'data-roots': path.dirname(path.resolve(data)),
      'shard-size': String(options.shardSize),
      'extract-workers': '1',
      'api-port': '0',
    };
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FINETUNE_')));
    const logs = [];
    for (let i = 0; i < workers; i++) {
      const child = spawn(process.execPath, [path.join(root, 'bin', 'finetune.js'), 'worker', '--env', 'test', ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v])], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
      logs[i] = '';
      child.stderr.on('data', (chunk) => (logs[i] += chunk));
      children.push(child);
    }
    await waitUntil(() => logs.every((log) => log.includes('taking jobs')), 'workers ready');
    const sources = { env: 'test', environment: {}, flags };
    api = await startJobApi(loadConfig(sources).values, sources, silentLogger);
    const client = new JobClient(api.url, undefined);
    const { id } = await client.submitFolder('scale', data, { 'preprocess.imageSize': options.imageSize, 'train.epochs': 1 });
    const events = [];
    await client.follow(id, (event) => events.push(event));
    const planned = events.find((e) => e.type === 'planned');
    const shards = events.filter((e) => e.type === 'shard');
    if (!planned || shards.length !== planned.shards) throw new Error(`job did not extract: ${JSON.stringify(events.filter((e) => e.type !== 'progress').slice(-3))}`);
    const seconds = (Date.parse(shards.at(-1).at) - Date.parse(planned.at)) / 1000;
    const images = shards.reduce((sum, s) => sum + s.computed, 0);
    // Each worker's first shard also loads tfjs and the base model in the worker's job thread.
    const byWorker = new Map();
    for (const s of shards) byWorker.set(s.worker, [...(byWorker.get(s.worker) ?? []), s]);
    const steady = [...byWorker.values()].map((list) => list.slice(1)).filter((list) => list.length > 0);
    const steadyImagesPerSecond = steady.reduce((sum, list) => sum + list.reduce((n, s) => n + s.images, 0) / list.reduce((t, s) => t + s.seconds, 0), 0);
    const cpuSeconds = children.reduce((sum, child) => sum + cpuSecondsOf(child.pid), 0);
    return {
      workers,
      images,
      shards: shards.length,
      seconds,
      imagesPerSecond: images / seconds,
      steadyImagesPerSecond,
      firstShardSeconds: [...byWorker.values()].map((list) => list[0].seconds),
      imagesPerWorker: [...byWorker.values()].map((list) => list.reduce((n, s) => n + s.images, 0)),
      workerCpuSeconds: cpuSeconds,
      load: os.loadavg()[0],
      completed: events.at(-1).type === 'completed',
    };
  } finally {
    await api?.close();
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)))));
    redis.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const data = flag('data');
  if (!data) throw new Error('Missing --data DIR (a labelled folder; e.g. a Fashion-MNIST subset from scripts/make-fashion-subset.mjs)');
  const counts = flag('workers', '1,2,4').split(',').map(Number);
  const options = { imageSize: Number(flag('image-size', '96')), shardSize: Number(flag('shard-size', '50')) };
  const repeat = Number(flag('repeat', '1'));
  const runs = [];
  for (let r = 0; r < repeat; r++) for (const workers of counts) {
    const run = await measure(workers, data, options);
    process.stderr.write(`${JSON.stringify(run)}\n`);
    runs.push(run);
  }
  process.stdout.write(`${JSON.stringify({ cores: os.availableParallelism(), load: os.loadavg(), ...options, runs }, null, 2)}\n`);
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
