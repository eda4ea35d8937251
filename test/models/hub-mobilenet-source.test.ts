import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FinetuneConfig } from '../../src/config/schema';
import { RuntimeFailure } from '../../src/errors';
import { silentLogger, type Logger } from '../../src/logger';
import { temporaryDirFor, verifyDownloadedModel } from '../../src/models/download-model';
import { HubMobileNetSource, hubModelJsonUrl, parseHubMobileNetId } from '../../src/models/hub-mobilenet-source';

const v2Path = '/google/imagenet/mobilenet_v2_100_224/classification/2';
const shardNames = ['group1-shard1of2', 'group1-shard2of2'];

/** The source reads only base.*; the rest of the configuration is left out so that schema additions elsewhere do not touch this test. */
const minimalConfig: Pick<FinetuneConfig, 'base'> = {
  base: { id: 'mobilenet_v2_1.00', cacheDir: 'unused', featureCacheMaxMB: 4096, hubUrl: 'https://tfhub.dev', downloadTimeoutSeconds: 30 },
};

/** How the fake TF Hub behaves for the next requests. */
type ServerMode = 'ok' | 'not-found' | 'stall-before-headers' | 'stall-mid-shard' | 'drop-mid-shard' | 'short-shard';

let workDir: string;
const fixture = new Map<string, Buffer>();
let server: http.Server;
let hubUrl: string;
let mode: ServerMode = 'ok';
const requests: string[] = [];

/** nsfwjs' GraphModel fixture (JS modules) as the files TF Hub serves: model.json plus binary shards. */
function writeFixture(): void {
  const dir = path.resolve(path.dirname(require.resolve('nsfwjs')), '..', 'models', 'mobilenet_v2_mid');
  const modelModule = require(path.join(dir, 'model.min.js'));
  assert.deepEqual(modelModule.weightsManifest[0].paths, shardNames, 'nsfwjs fixture layout changed');
  fixture.set('model.json', Buffer.from(JSON.stringify(modelModule)));
  for (const shard of shardNames) fixture.set(shard, Buffer.from(require(path.join(dir, `${shard}.min.js`)) as string, 'base64'));
}

function handle(request: http.IncomingMessage, response: http.ServerResponse): void {
  requests.push(request.url ?? '');
  const url = new URL(request.url ?? '/', 'http://localhost');
  const name = url.pathname.startsWith(`${v2Path}/`) ? url.pathname.slice(v2Path.length + 1) : '';
  const body = url.searchParams.get('tfjs-format') === 'file' ? fixture.get(name) : undefined;
  if (mode === 'stall-before-headers') return;
  if (mode === 'not-found' || !body) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
    return;
  }
  const isShard = name !== 'model.json';
  if (isShard && mode === 'stall-mid-shard') {
    response.writeHead(200, { 'content-length': body.length });
    response.write(body.subarray(0, body.length >> 1));
    return;
  }
  if (isShard && mode === 'drop-mid-shard') {
    response.writeHead(200, { 'content-length': body.length });
    response.write(body.subarray(0, body.length >> 1), () => response.socket?.destroy());
    return;
  }
  if (isShard && mode === 'short-shard') {
    const short = body.subarray(0, body.length - 16);
    response.writeHead(200, { 'content-length': short.length }).end(short);
    return;
  }
  response.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' }).end(body);
}

function freshCacheDir(): string {
  return fs.mkdtempSync(path.join(workDir, 'cache-'));
}

function sourceFor(cacheDir: string, overrides: Partial<FinetuneConfig['base']> = {}, logger: Logger = silentLogger): HubMobileNetSource {
  const config = { ...minimalConfig, base: { ...minimalConfig.base, hubUrl, cacheDir, ...overrides } } as FinetuneConfig;
  return new HubMobileNetSource(config, logger);
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (message) => lines.push(message), warn: (message) => lines.push(`warning: ${message}`) };
}

async function assertFailure(promise: Promise<unknown>, ...expected: (string | RegExp)[]): Promise<RuntimeFailure> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof RuntimeFailure, `expected a RuntimeFailure, got ${String(caught)}`);
  assert.equal(caught.exitCode, 1);
  for (const part of expected) {
    if (typeof part === 'string') assert.ok(caught.message.includes(part), `message lacks "${part}": ${caught.message}`);
    else assert.match(caught.message, part);
  }
  return caught;
}

function assertNoDownloadLeft(cacheDir: string): void {
  const target = path.join(cacheDir, 'hub', 'mobilenet_v2_1.00');
  assert.equal(fs.existsSync(target), false, `${target} should not exist`);
  assert.equal(fs.existsSync(temporaryDirFor(target)), false, `${temporaryDirFor(target)} should not exist`);
}

before(async () => {
  await tf.setBackend('wasm');
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-mobilenet-'));
  writeFixture();
  server = http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hubUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(workDir, { recursive: true, force: true });
});

describe('parseHubMobileNetId', () => {
  test('normalizes alphas to two decimals and maps to the TF Hub paths of @tensorflow-models/mobilenet', () => {
    assert.equal(parseHubMobileNetId('mobilenet_v1_1.0')?.id, 'mobilenet_v1_1.00');
    assert.equal(parseHubMobileNetId('mobilenet_v1_0.25')?.hubPath, '/google/imagenet/mobilenet_v1_025_224/classification/1');
    assert.equal(parseHubMobileNetId('mobilenet_v1_.5')?.hubPath, '/google/imagenet/mobilenet_v1_050_224/classification/1');
    assert.equal(parseHubMobileNetId('mobilenet_v2_0.75')?.hubPath, '/google/imagenet/mobilenet_v2_075_224/classification/2');
    assert.equal(parseHubMobileNetId('mobilenet_v2_1')?.hubPath, v2Path);
    assert.equal(parseHubMobileNetId('mobilenet_v1_0.5')?.embeddingNode, 'module_apply_default/MobilenetV1/Logits/global_pool');
    assert.equal(parseHubMobileNetId('mobilenet_v2_1.00')?.embeddingNode, 'module_apply_default/MobilenetV2/Logits/AvgPool');
    assert.equal(parseHubMobileNetId('mobilenet_v2_0.25'), undefined, 'v2 has no 0.25 on TF Hub');
    assert.equal(parseHubMobileNetId('mobilenet_v2'), undefined);
    assert.equal(
      hubModelJsonUrl('https://tfhub.dev/', v2Path),
      'https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/classification/2/model.json?tfjs-format=file',
    );
  });

  test('the source accepts hub ids only, and refuses an alpha TF Hub does not have with the valid ones', async () => {
    const source = sourceFor(freshCacheDir());
    assert.equal(source.accepts('mobilenet_v2_1.0'), true);
    assert.equal(source.accepts('mobilenet_v1_0.25'), true);
    assert.equal(source.accepts('mobilenet_v2'), false);
    assert.equal(source.accepts('./models/mobilenet_v2_1.00'), false);
    await assert.rejects(source.load('mobilenet_v2_0.25'), /Expected mobilenet_v2_<alpha> with alpha one of 0\.50, 0\.75, 1\.00/);
  });
});

describe('HubMobileNetSource against a loopback TF Hub', () => {
  let cacheDir: string;
  const target = (): string => path.join(cacheDir, 'hub', 'mobilenet_v2_1.00');

  before(() => {
    cacheDir = freshCacheDir();
  });

  test('first load downloads model.json and both shards, and the GraphModel runs', async () => {
    mode = 'ok';
    requests.length = 0;
    const logger = recordingLogger();
    const base = await sourceFor(cacheDir, {}, logger).load('mobilenet_v2_1.0');
    try {
      assert.deepEqual(requests, [
        `${v2Path}/model.json?tfjs-format=file`,
        `${v2Path}/group1-shard1of2?tfjs-format=file`,
        `${v2Path}/group1-shard2of2?tfjs-format=file`,
      ]);
      assert.ok(logger.lines.some((line) => line.startsWith('downloading mobilenet_v2_1.00')), logger.lines.join('\n'));
      // nsfwjs' graph is a MobileNetV2 1.40 under a Keras wrapper: no twin of v2 1.00 fits it, so it stays a GraphModel.
      assert.ok(logger.lines.some((line) => /^warning: .*not laid out as the TF Hub mobilenet_v2_1\.00 .*frozen features only/.test(line)), logger.lines.join('\n'));
      assert.equal(base.id, 'mobilenet_v2_1.00');
      assert.equal(base.source, `${hubUrl}${v2Path}/model.json?tfjs-format=file`);
      assert.equal(base.inputSize, 224);
      assert.deepEqual(base.inputRange, [0, 1]);
      assert.match(base.sha256, /^[0-9a-f]{64}$/);
      assert.equal(base.lastFeatureLayer, 'module_apply_default/MobilenetV2/Logits/AvgPool');
      assert.equal(base.recommendedCut, undefined);
      assert.equal(base.network.kind, 'graph');
      if (base.network.kind !== 'graph') return;
      assert.equal(base.network.outputNode, 'module_apply_default/MobilenetV2/Logits/AvgPool');
      // The fixture is not a TF Hub MobileNet, so it has no embedding node: run it to its own output.
      const output = base.network.model.predict(tf.zeros([1, 224, 224, 3])) as tf.Tensor;
      assert.deepEqual(output.shape, [1, 5]);
      const values = await output.data();
      output.dispose();
      assert.ok(values.every(Number.isFinite), `non-finite output ${values}`);

      const check = verifyDownloadedModel(target());
      assert.ok(check.ok, check.ok ? '' : check.problem);
      assert.deepEqual(
        check.record.files.map((file) => [file.name, file.bytes]),
        [['model.json', fixture.get('model.json')!.length], ...shardNames.map((name) => [name, fixture.get(name)!.length])],
      );
      assert.equal(fs.existsSync(temporaryDirFor(target())), false);
    } finally {
      base.dispose();
    }
  });

  test('second load uses the cache and makes no request', async () => {
    mode = 'not-found';
    requests.length = 0;
    const logger = recordingLogger();
    const base = await sourceFor(cacheDir, {}, logger).load('mobilenet_v2_1.00');
    base.dispose();
    assert.deepEqual(requests, []);
    assert.ok(logger.lines.some((line) => line.startsWith('using cached mobilenet_v2_1.00')), logger.lines.join('\n'));
  });

  test('a cached folder with a corrupted shard is detected and downloaded again', async () => {
    const shard = path.join(target(), shardNames[0]);
    const bytes = fs.readFileSync(shard);
    bytes[1000] ^= 0xff;
    fs.writeFileSync(shard, bytes);
    const check = verifyDownloadedModel(target());
    assert.equal(check.ok, false);
    assert.match(check.ok ? '' : check.problem, /group1-shard1of2 has SHA-256 [0-9a-f]{64}, expected/);

    mode = 'ok';
    requests.length = 0;
    const logger = recordingLogger();
    const base = await sourceFor(cacheDir, {}, logger).load('mobilenet_v2_1.00');
    base.dispose();
    assert.equal(requests.length, 3);
    assert.ok(logger.lines.some((line) => line.includes('is corrupt')), logger.lines.join('\n'));
    assert.ok(verifyDownloadedModel(target()).ok);
    assert.deepEqual(fs.readFileSync(shard), fixture.get(shardNames[0]));
  });

  test('a stale temporary folder from a crashed download is removed by the next download', async () => {
    const dir = freshCacheDir();
    const stale = temporaryDirFor(path.join(dir, 'hub', 'mobilenet_v2_1.00'));
    fs.mkdirSync(stale, { recursive: true });
    fs.writeFileSync(path.join(stale, shardNames[0]), 'half a shard');
    mode = 'ok';
    const base = await sourceFor(dir).load('mobilenet_v2_1.00');
    base.dispose();
    assert.deepEqual(fs.readdirSync(path.join(dir, 'hub')), ['mobilenet_v2_1.00']);
  });
});

describe('download failures', () => {
  test('HTTP 404 gives a RuntimeFailure naming the URL and the offline default', async () => {
    mode = 'not-found';
    const dir = freshCacheDir();
    await assertFailure(
      sourceFor(dir).load('mobilenet_v2_1.00'),
      `${hubUrl}${v2Path}/model.json?tfjs-format=file`,
      'HTTP 404',
      '--base mobilenet_v2',
    );
    assertNoDownloadLeft(dir);
  });

  test('a refused connection gives a RuntimeFailure naming the URL, the cause and the offline default', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const dir = freshCacheDir();
    await assertFailure(
      sourceFor(dir, { hubUrl: deadUrl }).load('mobilenet_v2_1.00'),
      `${deadUrl}${v2Path}/model.json?tfjs-format=file`,
      'ECONNREFUSED',
      '--base mobilenet_v2',
    );
    assertNoDownloadLeft(dir);
  });

  test('a server that never answers fails within the timeout', async () => {
    mode = 'stall-before-headers';
    const dir = freshCacheDir();
    const started = Date.now();
    await assertFailure(sourceFor(dir, { downloadTimeoutSeconds: 1 }).load('mobilenet_v2_1.00'), 'timeout', 'model.json', '--base mobilenet_v2');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 900 && elapsed < 3000, `took ${elapsed} ms with a 1 s timeout`);
    assertNoDownloadLeft(dir);
  });

  test('a shard that stalls halfway fails within the timeout; meanwhile only the temporary folder exists', async () => {
    mode = 'stall-mid-shard';
    requests.length = 0;
    const dir = freshCacheDir();
    const targetDir = path.join(dir, 'hub', 'mobilenet_v2_1.00');
    const started = Date.now();
    const loading = sourceFor(dir, { downloadTimeoutSeconds: 1 }).load('mobilenet_v2_1.00');
    loading.catch(() => undefined);
    while (requests.length < 2 && Date.now() - started < 2000) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(fs.existsSync(targetDir), false, 'target folder must not exist during the download');
    assert.equal(fs.existsSync(path.join(temporaryDirFor(targetDir), 'model.json')), true);
    await assertFailure(loading, `${v2Path}/group1-shard1of2?tfjs-format=file`, 'timeout', '--base mobilenet_v2');
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 3000, `took ${elapsed} ms with a 1 s timeout`);
    assertNoDownloadLeft(dir);
  });

  test('a connection dropped halfway through a shard leaves no target folder', async () => {
    mode = 'drop-mid-shard';
    const dir = freshCacheDir();
    await assertFailure(sourceFor(dir).load('mobilenet_v2_1.00'), `${v2Path}/group1-shard1of2?tfjs-format=file`, '--base mobilenet_v2');
    assertNoDownloadLeft(dir);
  });

  test('shards shorter than the manifest describes are refused', async () => {
    mode = 'short-shard';
    const dir = freshCacheDir();
    await assertFailure(sourceFor(dir).load('mobilenet_v2_1.00'), /hold \d+ bytes, but their manifest describes \d+ bytes/);
    assertNoDownloadLeft(dir);
  });
});
