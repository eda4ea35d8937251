import 'reflect-metadata';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { FinetuneConfig } from '../../src/config/schema';
import { ClassifyPipeline } from '../../src/pipeline/classify-pipeline';
import { SharpImageDecoder } from '../../src/preprocess/sharp-image-decoder';
import { ModelServer, type RunningServer } from '../../src/serve/model-server';
import { loadVersionModel } from '../../src/serve/version-model';
import { testContainer } from '../helpers/pipeline';
import { call, metricValue, postJson, publishCopy, trainSmallExport, type Json, type SmallExport } from './serve-fixture';

function withServe(config: FinetuneConfig, serve: Partial<FinetuneConfig['serve']>, preprocess: Partial<FinetuneConfig['preprocess']> = {}): FinetuneConfig {
  return { ...config, serve: { ...config.serve, port: 0, pollSeconds: 0.1, ...serve }, preprocess: { ...config.preprocess, ...preprocess } };
}

/** A raw HTTP exchange on one socket, for what fetch cannot send (slow bodies, broken framing). */
function rawExchange(port: number, write: (socket: net.Socket) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => write(socket));
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

describe('finetune serve', () => {
  let small: SmallExport;
  let server: RunningServer;
  let base: string;
  let images: string[];
  let png: Buffer;
  let pixels: number[][][];

  before(async () => {
    small = await trainSmallExport('clothes');
    server = await testContainer(withServe(small.config, { maxBatchSize: 8, batchTimeoutMs: 20 })).get(ModelServer).start(small.basePath);
    base = `${server.url}/v1/models/clothes`;
    images = small.labels.map((label) => path.join(small.data, label, fs.readdirSync(path.join(small.data, label)).sort()[0]));
    png = fs.readFileSync(images[0]);
    const decoded = await new SharpImageDecoder().decode(png, { size: 96, fit: 'cover', maxInputPixels: 1e8 });
    pixels = Array.from({ length: 96 }, (_, y) => Array.from({ length: 96 }, (_, x) => Array.from(decoded.data.subarray((y * 96 + x) * 3, (y * 96 + x) * 3 + 3))));
  });

  after(async () => {
    await server?.close();
  });

  it('binds loopback on the port it was given (0: a free one)', () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(server.port > 0);
  });

  it('GET /v1/models/<name> reports the version status like TF Serving', async () => {
    const { status, body } = await call(base);
    assert.equal(status, 200);
    assert.deepEqual(body, { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
    const pinned = await call(`${base}/versions/1`);
    assert.equal(pinned.body.model_version_status[0].version, '1');
  });

  it('GET /v1/models/<name>/metadata answers labels, input contract, plan and metrics', async () => {
    const { status, body } = await call(`${base}/metadata`);
    assert.equal(status, 200);
    assert.deepEqual(body.model_spec, { name: 'clothes', signature_name: 'serving_default', version: '1' });
    assert.deepEqual(body.metadata.labels, small.labels);
    assert.equal(body.metadata.input.height, 96);
    assert.deepEqual(body.metadata.input.range, [0, 255]);
    assert.equal(body.metadata.plan.cutLayer, 'block_13_expand_relu');
    assert.ok(body.metadata.metrics.val.accuracy >= 0);
    assert.equal((await call(`${base}/versions/1/metadata`)).body.model_spec.version, '1');
  });

  it(':predict with b64 instances answers the probabilities predict gives for the same files', async () => {
    const instances = images.map((file) => ({ b64: fs.readFileSync(file).toString('base64') }));
    const { status, body, headers } = await postJson(`${base}:predict`, { instances });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(headers.get('x-model-version'), '1');
    assert.equal(body.predictions.length, 3);
    const expected = await testContainer(small.config).get(ClassifyPipeline).predict(small.exportDir, images, 3);
    body.predictions.forEach((row: number[], i: number) => {
      assert.equal(row.length, 3);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4);
      for (const { label, probability } of expected[i].predictions) assert.ok(Math.abs(row[small.labels.indexOf(label)] - probability) < 1e-5, `${images[i]} ${label}`);
    });
  });

  it(':predict takes [H, W, 3] pixel arrays, decoded exactly as b64 images are', async () => {
    const fromPixels = await postJson(`${base}:predict`, { instances: [pixels] });
    const fromB64 = await postJson(`${base}:predict`, { instances: [{ b64: png.toString('base64') }] });
    assert.equal(fromPixels.status, 200, JSON.stringify(fromPixels.body));
    fromPixels.body.predictions[0].forEach((p: number, i: number) => assert.ok(Math.abs(p - fromB64.body.predictions[0][i]) < 1e-6));
    const columnar = await postJson(`${base}:predict`, { inputs: [pixels] });
    assert.deepEqual(columnar.body, { outputs: fromPixels.body.predictions });
  });

  it('/versions/<v>:predict pins a version', async () => {
    const { status, headers } = await postJson(`${base}/versions/1:predict`, { instances: [pixels] });
    assert.equal(status, 200);
    assert.equal(headers.get('x-model-version'), '1');
    const missing = await postJson(`${base}/versions/9:predict`, { instances: [pixels] });
    assert.equal(missing.status, 404);
    assert.match(missing.body.error, /Version 9 .* Expected one of: 1/);
  });

  it(':labels takes an uploaded image as the raw body or multipart and answers the top-k labels', async () => {
    const raw = await call(`${base}:labels?top_k=2`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
    assert.equal(raw.status, 200, JSON.stringify(raw.body));
    assert.equal(raw.body.model_version, '1');
    assert.equal(raw.body.predictions.length, 2);
    assert.ok(small.labels.includes(raw.body.predictions[0].label));
    assert.ok(raw.body.predictions[0].probability >= raw.body.predictions[1].probability);
    const form = new FormData();
    form.append('image', new Blob([png], { type: 'image/png' }), 'shirt.png');
    const multipart = await call(`${base}/versions/1:labels`, { method: 'POST', body: form });
    assert.equal(multipart.status, 200, JSON.stringify(multipart.body));
    assert.equal(multipart.body.predictions.length, 3, 'serve.topK defaults to 3');
    assert.deepEqual(multipart.body.predictions.slice(0, 2), raw.body.predictions);
  });

  it('/healthz, /readyz and /metrics (Prometheus text: requests, errors, latency, batch sizes)', async () => {
    assert.deepEqual((await call(`${server.url}/healthz`)).body, { status: 'ok' });
    const ready = await call(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(ready.body.version, '1');
    await postJson(`${base}:predict`, { instances: 'nope' });
    const { status, body, headers } = await call(`${server.url}/metrics`);
    assert.equal(status, 200);
    assert.match(headers.get('content-type') ?? '', /^text\/plain/);
    assert.ok(metricValue(body, 'finetune_serve_requests_total{route="/v1/models/:target",method="POST",status="200"}') >= 1, body);
    assert.ok(metricValue(body, 'finetune_serve_request_errors_total{route="/v1/models/:target",status="400"}') >= 1);
    assert.ok(metricValue(body, 'finetune_serve_request_duration_seconds_count{route="/v1/models/:target"}') >= 1);
    assert.ok(metricValue(body, 'finetune_serve_batch_size_count') >= 1);
    assert.equal(metricValue(body, 'finetune_serve_model_version'), 1);
  });

  it('micro-batches concurrent requests into one forward pass', async () => {
    const before = await call(`${server.url}/metrics`);
    const batches0 = metricValue(before.body, 'finetune_serve_batch_size_count');
    const images0 = metricValue(before.body, 'finetune_serve_batch_size_sum');
    const answers = await Promise.all(Array.from({ length: 8 }, () => postJson(`${base}:predict`, { instances: [{ b64: png.toString('base64') }] })));
    assert.ok(answers.every((a) => a.status === 200));
    const afterwards = await call(`${server.url}/metrics`);
    const batches = metricValue(afterwards.body, 'finetune_serve_batch_size_count') - batches0;
    const imagesRun = metricValue(afterwards.body, 'finetune_serve_batch_size_sum') - images0;
    assert.equal(imagesRun, 8);
    assert.ok(batches < 8, `8 concurrent requests ran in ${batches} batches`);
    // Batched or not, every request gets its own image's answer.
    for (const a of answers) assert.deepEqual(a.body.predictions, answers[0].body.predictions);
  });

  describe('bad input gets a 4xx JSON error saying what was expected', () => {
    const expectError = async (answer: Promise<{ status: number; body: Json }>, status: number, message: RegExp) => {
      const { status: got, body } = await answer;
      assert.equal(got, status, JSON.stringify(body));
      assert.equal(typeof body.error, 'string', JSON.stringify(body));
      assert.match(body.error, message);
    };

    it('malformed JSON', () =>
      expectError(call(`${base}:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"instances": [' }), 400, /not valid JSON.*Expected \{"instances"/));
    it('a body without instances', () => expectError(postJson(`${base}:predict`, { images: [] }), 400, /Expected a JSON object with "instances".*received an object with keys images/));
    it('no instances', () => expectError(postJson(`${base}:predict`, { instances: [] }), 400, /non-empty list/));
    it('a wrong shape', () => expectError(postJson(`${base}:predict`, { instances: [[[[1, 2, 3]]]] }), 400, /instances\[0\] has 1 rows; the model takes \[96, 96, 3\]/));
    it('a pixel without three channels', () => {
      const bad = pixels.map((row) => row.map((p) => [...p]));
      bad[5][7] = [1, 2];
      return expectError(postJson(`${base}:predict`, { instances: [bad] }), 400, /instances\[0\]\[5\]\[7\] is a list of 2; expected 3 channel values/);
    });
    it('a non-numeric or out-of-range pixel', async () => {
      const bad = pixels.map((row) => row.map((p) => [...p])) as unknown[][][];
      bad[2][3][1] = 'abc';
      await expectError(postJson(`${base}:predict`, { instances: [bad] }), 400, /instances\[0\]\[2\]\[3\]\[1\] is the string "abc"; expected a number in 0\.\.255/);
      bad[2][3][1] = 300;
      await expectError(postJson(`${base}:predict`, { instances: [bad] }), 400, /is number 300; expected a number in 0\.\.255/);
    });
    it('an instance that is neither pixels nor b64', () => expectError(postJson(`${base}:predict`, { instances: [{ url: 'x' }] }), 400, /instances\[0\] is an object with keys url; expected an \[96, 96, 3\] pixel array/));
    it('b64 that is not base64', () => expectError(postJson(`${base}:predict`, { instances: [{ b64: '***' }] }), 400, /instances\[0\]\.b64 is the string "\*\*\*"; expected a base64-encoded image/));
    it('an undecodable image', async () => {
      await expectError(postJson(`${base}:predict`, { instances: [{ b64: Buffer.from('not an image at all').toString('base64') }] }), 400, /instances\[0\]\.b64: not an image in a supported format/);
      await expectError(call(`${base}:labels`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: png.subarray(0, 40) }), 400, /uploaded image: /);
    });
    it('an empty upload or a wrong content type', async () => {
      await expectError(call(`${base}:labels`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(0) }), 400, /empty/);
      await expectError(call(`${base}:predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png }), 415, /:predict takes Content-Type application\/json; received image\/png/);
      await expectError(call(`${base}:labels`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }), 415, /:labels takes one image .* received text\/plain/);
      await expectError(call(`${base}:labels`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a,b' }), 415, /Content-Type text\/csv is not accepted/);
    });
    it('unknown models, versions, methods and routes', async () => {
      await expectError(call(`${server.url}/v1/models/shoes`), 404, /Model "shoes" is not served here\. Expected "clothes"/);
      await expectError(call(`${base}/versions/abc`), 400, /Version "abc" is not a version number/);
      await expectError(call(`${base}/versions/42`), 404, /Version 42/);
      await expectError(postJson(`${base}:classify`, { instances: [] }), 404, /Expected clothes:predict or :labels/);
      await expectError(call(`${server.url}/v2/nothing`), 404, /No route GET \/v2\/nothing/);
      await expectError(call(`${base}:labels?top_k=0`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png }), 400, /top_k is "0"; expected a positive integer/);
    });
  });

  describe('limits', () => {
    let strict: RunningServer;
    let strictBase: string;

    before(async () => {
      strict = await testContainer(withServe(small.config, { bodyLimitBytes: 64 * 1024, maxInstances: 2, requestTimeoutMs: 400, maxInputPixels: 5000 }))
        .get(ModelServer)
        .start(small.basePath);
      strictBase = `${strict.url}/v1/models/clothes`;
    });
    after(() => strict?.close());

    it('a body over serve.bodyLimitBytes gets 413', async () => {
      const { status, body } = await postJson(`${strictBase}:predict`, { instances: [pixels] });
      assert.equal(status, 413);
      assert.match(body.error, /larger than 65536 bytes \(serve\.bodyLimitBytes\)/);
      const upload = await call(`${strictBase}:labels`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(70 * 1024) });
      assert.equal(upload.status, 413);
    });

    it('more instances than serve.maxInstances get 413', async () => {
      const b64 = { b64: png.toString('base64') };
      const { status, body } = await postJson(`${strictBase}:predict`, { instances: [b64, b64, b64] });
      assert.equal(status, 413);
      assert.match(body.error, /holds 3 images; this server takes at most 2 per request \(serve\.maxInstances\)/);
    });

    it('an image with more pixels than serve.maxInputPixels gets 413', async () => {
      const large = await sharp({ create: { width: 100, height: 100, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png().toBuffer();
      const { status, body } = await call(`${strictBase}:labels`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: large });
      assert.equal(status, 413, JSON.stringify(body));
      assert.match(body.error, /pixel limit of 5000 pixels of this server \(serve\.maxInputPixels\)/);
      assert.equal((await call(`${strictBase}:labels`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png })).status, 200, '28x28 fits');
    });

    it('a client that sends its body too slowly gets 408 with a JSON error', async () => {
      const started = Date.now();
      const response = await rawExchange(strict.port, (socket) => {
        socket.write(`POST /v1/models/clothes:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"instances": [`);
      });
      assert.match(response, /^HTTP\/1\.1 408/);
      const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
      assert.match(body.error, /did not arrive in full within 400 ms \(serve\.requestTimeoutMs\)/);
      assert.ok(Date.now() - started < 5000);
    });

    it('a malformed HTTP request gets 400 with a JSON error, and the server keeps serving', async () => {
      const response = await rawExchange(strict.port, (socket) => socket.write('THIS IS NOT HTTP\r\n\r\n'));
      assert.match(response, /^HTTP\/1\.1 400/);
      assert.match(JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)).error, /Malformed HTTP request/);
      assert.equal((await call(`${strict.url}/healthz`)).status, 200);
    });
  });

  it('switches to a new version under concurrent load without losing a request, and unloads the old one', async () => {
    const body = JSON.stringify({ instances: [{ b64: png.toString('base64') }] });
    const results: { status: number; version: string | null; started: number }[] = [];
    let stop = false;
    let firstV2At = Infinity;
    const client = async () => {
      while (!stop) {
        const started = Date.now();
        const response = await fetch(`${base}:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await response.text();
        const version = response.headers.get('x-model-version');
        if (version === '2' && firstV2At === Infinity) firstV2At = Date.now();
        results.push({ status: response.status, version, started });
      }
    };
    const clients = Array.from({ length: 6 }, client);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const published = await publishCopy(small.exportDir);
    assert.equal(published.version, 2);
    const deadline = Date.now() + 30_000;
    while (firstV2At === Infinity && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop = true;
    await Promise.all(clients);

    assert.ok(results.length > 12, `${results.length} requests`);
    assert.deepEqual(results.filter((r) => r.status !== 200), [], 'every request succeeded');
    assert.ok(results.some((r) => r.version === '1'), 'version 1 answered before the switch');
    const late = results.filter((r) => r.started >= firstV2At);
    assert.ok(late.length > 0);
    assert.ok(late.every((r) => r.version === '2'), 'requests sent after the switch get version 2');

    const status = await call(base);
    assert.deepEqual(status.body.model_version_status.map((s: Json) => [s.version, s.state]), [
      ['2', 'AVAILABLE'],
      ['1', 'END'],
    ]);
    assert.equal((await call(`${server.url}/readyz`)).body.version, '2');
    // Pinning the old version loads it again on demand.
    const pinned = await postJson(`${base}/versions/1:predict`, { instances: [pixels] });
    assert.equal(pinned.status, 200);
    assert.equal(pinned.headers.get('x-model-version'), '1');
    assert.deepEqual((await call(base)).body.model_version_status.map((s: Json) => [s.version, s.state]), [
      ['2', 'AVAILABLE'],
      ['1', 'AVAILABLE'],
    ]);
  });

  it('with serve.inferenceThread main, answers what the worker thread answers', async () => {
    const inMain = await testContainer(withServe(small.config, { inferenceThread: 'main' })).get(ModelServer).start(small.basePath);
    try {
      const instances = [pixels, { b64: png.toString('base64') }];
      const a = await postJson(`${inMain.url}/v1/models/clothes/versions/1:predict`, { instances });
      const b = await postJson(`${base}/versions/1:predict`, { instances });
      assert.equal(a.status, 200);
      a.body.predictions.flat().forEach((p: number, i: number) => assert.ok(Math.abs(p - b.body.predictions.flat()[i]) < 1e-6));
    } finally {
      await inMain.close();
    }
  });

  it('with two inference workers, computes two batches at once and answers what one worker answers', async () => {
    const pool = await loadVersionModel(small.exportDir, { thread: 'worker', backend: 'wasm', workers: 2, loadTimeoutMs: 60_000 });
    const single = await loadVersionModel(small.exportDir, { thread: 'worker', backend: 'wasm', workers: 1, loadTimeoutMs: 60_000 });
    try {
      assert.equal(pool.parallelism, 2);
      assert.equal(single.parallelism, 1);
      const image = Float32Array.from(pixels.flat(2));
      const [a, b] = await Promise.all([pool.predict([image]), pool.predict([image, image])]);
      const expected = (await single.predict([image]))[0];
      for (const row of [...a, ...b]) row.forEach((p, i) => assert.ok(Math.abs(p - expected[i]) < 1e-6));
    } finally {
      await Promise.all([pool.dispose(), single.dispose()]);
    }
  });

  it('starts on an empty base path, answers 503 until a version appears, then serves it', async () => {
    const emptyBase = path.join(path.dirname(small.basePath), 'later');
    fs.mkdirSync(emptyBase);
    const waiting = await testContainer(withServe(small.config, {})).get(ModelServer).start(emptyBase);
    try {
      const notReady = await call(`${waiting.url}/readyz`);
      assert.equal(notReady.status, 503);
      const early = await postJson(`${waiting.url}/v1/models/later:predict`, { instances: [pixels] });
      assert.equal(early.status, 503);
      assert.match(early.body.error, /No version of the model is loaded yet\. Expected a numbered export folder under/);
      assert.equal((await publishCopy(path.join(small.basePath, '1'), emptyBase)).version, 1);
      const deadline = Date.now() + 20_000;
      while (!waiting.versions.ready && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal((await call(`${waiting.url}/readyz`)).status, 200);
      assert.equal((await postJson(`${waiting.url}/v1/models/later:predict`, { instances: [pixels] })).status, 200);
    } finally {
      await waiting.close();
    }
  });

  it('keeps serving the current version when a broken one appears', async () => {
    const broken = path.join(small.basePath, '3');
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, 'metadata.json'), '{ not json');
    await server.versions.poll();
    const status = await call(`${base}/versions/3`);
    assert.equal(status.body.model_version_status[0].state, 'END');
    assert.match(status.body.model_version_status[0].status.error_message, /metadata\.json is unreadable/);
    const answer = await postJson(`${base}:predict`, { instances: [pixels] });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('x-model-version'), '2');
  });
});
