import 'reflect-metadata';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FinetuneConfig } from '../../src/config/schema';
import type { ExportMetadata } from '../../src/export/export-metadata';
import { writeExport } from '../../src/export/write-export';
import { ModelServer, type RunningServer } from '../../src/serve/model-server';
import type { WorkerPoolModel } from '../../src/serve/worker-pool-model';
import { testContainer } from '../helpers/pipeline';
import { temporaryDir } from '../helpers/sample-data';
import { call, postJson, publishCopy, trainSmallExport, type Json, type SmallExport } from './serve-fixture';

function withServe(config: FinetuneConfig, serve: Partial<FinetuneConfig['serve']>): FinetuneConfig {
  return { ...config, serve: { ...config.serve, port: 0, pollSeconds: 60, inferenceWorkers: 1, ...serve } };
}

/** A fresh base path holding a copy of the trained export as version 1. */
async function freshBase(small: SmallExport, name: string): Promise<string> {
  const basePath = path.join(temporaryDir('serve-base'), name);
  await publishCopy(small.exportDir, basePath);
  return basePath;
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Ids of this process's threads called `name` (Linux: /proc/self/task/<tid>/comm). */
function threadsNamed(name: string): number[] {
  return fs
    .readdirSync('/proc/self/task')
    .map(Number)
    .filter((tid) => fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === name);
}

/** Nice value of thread `tid` of this process: field 19 of /proc/self/task/<tid>/stat (the fields after the name). */
function niceOf(tid: number): number {
  const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

/** A POST sent with http.request as curl -d sends it: no Content-Type, or form-urlencoded. */
function rawPost(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: Json }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', headers: { 'content-length': Buffer.byteLength(body), ...headers } }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body: JSON.parse(text) }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

describe('finetune serve, hardened (issue 15)', () => {
  let small: SmallExport;
  let pixels: number[][][];
  const servers: RunningServer[] = [];

  const start = async (basePath: string, serve: Partial<FinetuneConfig['serve']> = {}) => {
    const server = await testContainer(withServe(small.config, serve)).get(ModelServer).start(basePath);
    servers.push(server);
    return server;
  };

  before(async () => {
    small = await trainSmallExport('hardened', { 'image-size': '32', epochs: '2', patience: '2' });
    pixels = Array.from({ length: 32 }, (_, y) => Array.from({ length: 32 }, (_, x) => [(x * 8) % 256, (y * 8) % 256, 128]));
  });

  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  it('item 1: a version seen mid-copy (model.json, no shards yet) is loaded once its copy completes', async () => {
    const basePath = await freshBase(small, 'midcopy');
    const server = await start(basePath);
    const partial = path.join(basePath, '2');
    fs.mkdirSync(partial);
    const shards = fs.readdirSync(small.exportDir).filter((file) => file.endsWith('.bin'));
    for (const file of fs.readdirSync(small.exportDir)) if (!shards.includes(file)) fs.copyFileSync(path.join(small.exportDir, file), path.join(partial, file));
    await server.versions.poll();
    const failed = await call(`${server.url}/v1/models/midcopy/versions/2`);
    assert.equal(failed.body.model_version_status[0].state, 'END');
    assert.notEqual(failed.body.model_version_status[0].status.error_message, '');
    assert.equal(server.versions.newestVersion, 1);
    for (const file of shards) fs.copyFileSync(path.join(small.exportDir, file), path.join(partial, file));
    await server.versions.poll();
    assert.equal(server.versions.newestVersion, 2);
    const answer = await postJson(`${server.url}/v1/models/midcopy:predict`, { instances: [pixels] });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('x-model-version'), '2');
    assert.equal((await call(`${server.url}/v1/models/midcopy/versions/2`)).body.model_version_status[0].state, 'AVAILABLE');
  });

  it('item 2: a zero-padded version folder (0003) is served as version 3', async () => {
    const basePath = await freshBase(small, 'padded');
    const server = await start(basePath);
    fs.cpSync(path.join(basePath, '1'), path.join(basePath, '0003'), { recursive: true });
    await server.versions.poll();
    const answer = await postJson(`${server.url}/v1/models/padded:predict`, { instances: [pixels] });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.headers.get('x-model-version'), '3');
    assert.equal((await call(`${server.url}/v1/models/padded/versions/3`)).body.model_version_status[0].state, 'AVAILABLE');
    assert.equal((await postJson(`${server.url}/v1/models/padded/versions/3:predict`, { instances: [pixels] })).status, 200);
  });

  it('item 3: a deleted version is not served, and a new export under the reused number replaces the old model', async () => {
    const basePath = await freshBase(small, 'reused');
    await publishCopy(small.exportDir, basePath);
    const server = await start(basePath);
    const labelsOf = async () => (await call(`${server.url}/v1/models/reused/metadata`)).body;
    assert.equal((await labelsOf()).model_spec.version, '2');
    fs.rmSync(path.join(basePath, '2'), { recursive: true });
    await server.versions.poll();
    assert.equal((await labelsOf()).model_spec.version, '1', 'the deleted version 2 is no longer served');
    // train writes a different model under the number 2 again (here: the same weights, labels reversed).
    const metadata: ExportMetadata = JSON.parse(fs.readFileSync(path.join(small.exportDir, 'metadata.json'), 'utf8'));
    const { version: _v, ...rest } = metadata;
    const reversed = [...small.labels].reverse();
    const written = await writeExport({
      outDir: path.dirname(basePath),
      name: 'reused',
      writeModel: async (dir) => {
        for (const file of fs.readdirSync(small.exportDir)) if (file === 'model.json' || file.endsWith('.bin')) fs.copyFileSync(path.join(small.exportDir, file), path.join(dir, file));
      },
      metadata: { ...rest, labels: reversed, createdAt: new Date().toISOString() },
      verify: async () => {},
    });
    assert.equal(written.version, 2);
    await server.versions.poll();
    const served = await labelsOf();
    assert.equal(served.model_spec.version, '2');
    assert.deepEqual(served.metadata.labels, reversed);
    const top = await call(`${server.url}/v1/models/reused:labels?top_k=3`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: fs.readFileSync(path.join(small.data, small.labels[0], fs.readdirSync(path.join(small.data, small.labels[0]))[0])) });
    assert.deepEqual(top.body.predictions.map((p: Json) => p.label).sort(), [...reversed].sort());
  });

  it('item 4: a killed inference worker is replaced; requests meanwhile go to the live one; /readyz shows it', async () => {
    const basePath = await freshBase(small, 'killed');
    const server = await start(basePath, { inferenceWorkers: 2 });
    const pool = (await server.versions.use(undefined, async (served) => served.model)) as WorkerPoolModel;
    const victim = pool.workers[0]!;
    await victim.thread.terminate();
    const degraded = await call(`${server.url}/readyz`);
    assert.equal(degraded.body.workers, '1/2');
    const answers = await Promise.all(Array.from({ length: 20 }, () => postJson(`${server.url}/v1/models/killed:predict`, { instances: [pixels] })));
    assert.deepEqual(answers.map((a) => a.status), new Array(20).fill(200));
    await until(async () => (await call(`${server.url}/readyz`)).body.workers === '2/2', 'the replacement worker');
    assert.notEqual(pool.workers[0], victim);
    // Every worker dead: not ready (503) until the replacements have loaded.
    await Promise.all(pool.workers.map((worker) => worker!.thread.terminate()));
    assert.equal((await call(`${server.url}/readyz`)).status, 503);
    await until(async () => (await call(`${server.url}/readyz`)).status === 200, 'both replacements');
    assert.equal((await postJson(`${server.url}/v1/models/killed:predict`, { instances: [pixels] })).status, 200);
  });

  it('item 6: a version whose weight file blocks on read is abandoned after serve.loadTimeoutSeconds; newer versions still load', async () => {
    const basePath = await freshBase(small, 'blocked');
    const server = await start(basePath, { loadTimeoutSeconds: 4 });
    const blocked = path.join(basePath, '2');
    fs.mkdirSync(blocked);
    for (const file of fs.readdirSync(small.exportDir)) {
      if (file.endsWith('.bin')) execFileSync('mkfifo', [path.join(blocked, file)]);
      else fs.copyFileSync(path.join(small.exportDir, file), path.join(blocked, file));
    }
    const started = Date.now();
    await server.versions.poll();
    assert.ok(Date.now() - started < 8000, `the poll took ${Date.now() - started} ms`);
    const status = (await call(`${server.url}/v1/models/blocked/versions/2`)).body.model_version_status[0];
    assert.equal(status.state, 'END');
    assert.match(status.status.error_message, /did not load within 4 s \(serve\.loadTimeoutSeconds\)/);
    const during = await postJson(`${server.url}/v1/models/blocked:predict`, { instances: [pixels] });
    assert.equal(during.headers.get('x-model-version'), '1', JSON.stringify(during.body));
    await publishCopy(small.exportDir, basePath);
    await server.versions.poll();
    assert.equal(server.versions.newestVersion, 3);
    const closing = Date.now();
    await server.close();
    assert.ok(Date.now() - closing < 5000);
    // The terminated worker's thread still waits in open(): a writer that opens and closes releases it, so the test process can end.
    for (const file of fs.readdirSync(blocked).filter((name) => name.endsWith('.bin'))) {
      try {
        fs.closeSync(fs.openSync(path.join(blocked, file), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
      } catch {
        // no reader left
      }
    }
  });

  it('item 7: beyond serve.maxInFlightRequests, a request gets 503 with Retry-After before its body is read', async () => {
    const basePath = await freshBase(small, 'busy');
    const server = await start(basePath, { maxInFlightRequests: 2 });
    const port = server.port;
    const held = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<net.Socket>((resolve) => {
            const socket = net.connect(port, '127.0.0.1', () => {
              socket.write('POST /v1/models/busy:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"inst');
              setTimeout(() => resolve(socket), 100);
            });
          }),
      ),
    );
    const refused = await postJson(`${server.url}/v1/models/busy:predict`, { instances: [pixels] });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.match(refused.body.error, /at capacity: 2 requests are in flight \(serve\.maxInFlightRequests\)/);
    assert.equal((await call(`${server.url}/healthz`)).status, 200, 'health checks are not requests to admit');
    for (const socket of held) socket.destroy();
    await until(async () => (await postJson(`${server.url}/v1/models/busy:predict`, { instances: [pixels] })).status === 200, 'room again');
  });

  it('item 8: :predict reads the body as JSON without a content type or with curl -d\'s form type', async () => {
    const basePath = await freshBase(small, 'curl');
    const server = await start(basePath);
    const body = JSON.stringify({ instances: [pixels] });
    const bare = await rawPost(`${server.url}/v1/models/curl:predict`, body, {});
    assert.equal(bare.status, 200, JSON.stringify(bare.body));
    assert.equal(bare.body.predictions[0].length, 3);
    const form = await rawPost(`${server.url}/v1/models/curl:predict`, body, { 'content-type': 'application/x-www-form-urlencoded' });
    assert.deepEqual(form.body, bare.body);
    const labels = await rawPost(`${server.url}/v1/models/curl:labels`, body, { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(labels.status, 415);
  });

  it('item 7: a large :predict body is parsed in a worker thread, with the same answers and the same errors', async () => {
    const basePath = await freshBase(small, 'large');
    const server = await start(basePath);
    const url = `${server.url}/v1/models/large:predict`;
    const one = await postJson(url, { instances: [pixels] });
    const many = await postJson(url, { instances: new Array(30).fill(pixels) });
    assert.equal(many.status, 200, JSON.stringify(many.body));
    assert.equal(many.body.predictions.length, 30);
    for (const row of many.body.predictions) row.forEach((p: number, i: number) => assert.ok(Math.abs(p - one.body.predictions[0][i]) < 1e-6));
    const bad = new Array(30).fill(pixels).map((instance, i) => (i === 25 ? instance.map((row: number[][], y: number) => (y === 4 ? row.map((p, x) => (x === 6 ? [1, 2] : p)) : row)) : instance));
    const refused = await postJson(url, { instances: bad });
    assert.equal(refused.status, 400);
    assert.match(refused.body.error, /instances\[25\]\[4\]\[6\] is a list of 2; expected 3 channel values/);
    const broken = await call(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `${JSON.stringify({ instances: new Array(30).fill(pixels) }).slice(0, -2)}` });
    assert.equal(broken.status, 400);
    assert.match(broken.body.error, /not valid JSON/);
  });

  it('item 10: inference and body-parse workers run serve.workerNice steps below the thread answering HTTP; 0 leaves them at its priority', { skip: process.platform !== 'linux' }, async () => {
    const httpNice = niceOf(process.pid); // this thread's: the server answers HTTP on it
    for (const workerNice of [7, 0]) {
      const before = new Set([...threadsNamed('serve-inference'), ...threadsNamed('serve-parse')]);
      const name = `nice-${workerNice}`;
      const server = await start(await freshBase(small, name), { workerNice, inferenceWorkers: 1 });
      // Over 64 kB: parsed in a parse worker, started for it.
      assert.equal((await postJson(`${server.url}/v1/models/${name}:predict`, { instances: new Array(30).fill(pixels) })).status, 200);
      const started = [...threadsNamed('serve-inference'), ...threadsNamed('serve-parse')].filter((tid) => !before.has(tid));
      assert.equal(started.length, 2, `threads started: ${started.length} (one inference worker, one parse worker)`);
      assert.deepEqual(started.map(niceOf), [httpNice + workerNice, httpNice + workerNice].map((nice) => Math.min(19, nice)), `serve.workerNice ${workerNice}`);
    }
  });

  it('item 9: /metadata, statuses and errors do not reveal the configuration or paths on the server', async () => {
    const basePath = await freshBase(small, 'private');
    const server = await start(basePath);
    const broken = path.join(basePath, '2');
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, 'metadata.json'), '{ not json');
    await server.versions.poll();
    const answers = [
      await call(`${server.url}/v1/models/private/metadata`),
      await call(`${server.url}/v1/models/private`),
      await call(`${server.url}/v1/models/private/versions/2`),
      await postJson(`${server.url}/v1/models/private/versions/7:predict`, { instances: [pixels] }),
    ];
    const metadata = answers[0].body.metadata;
    assert.equal(metadata.config, undefined);
    assert.deepEqual(metadata.labels, small.labels);
    assert.ok(metadata.input && metadata.plan && metadata.metrics && metadata.createdAt);
    assert.match(answers[2].body.model_version_status[0].status.error_message, /2\/metadata\.json is unreadable/);
    for (const answer of answers) {
      const text = JSON.stringify(answer.body);
      assert.ok(!text.includes(path.dirname(basePath)), text);
      assert.ok(!text.includes(small.config.base.cacheDir), text);
    }
  });
});
