import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RuntimeFailure } from '../../src/errors';
import { silentLogger } from '../../src/logger';
import { downloadModelFiles } from '../../src/models/download-model';
import { makeTempDir, removeTempDir } from '../helpers/images';

/** A model.json whose one shard is 4 KB of float32 weights; the server announces the shard's length or streams it without one. */
const shardBytes = 4096;
const modelJson = JSON.stringify({
  modelTopology: {},
  weightsManifest: [{ paths: ['shard.bin'], weights: [{ name: 'w', shape: [shardBytes / 4], dtype: 'float32' }] }],
});

let server: http.Server;
let url: string;
let workDir: string;

before(async () => {
  workDir = makeTempDir('finetune-download-cap-');
  server = http.createServer((request, response) => {
    if (request.url?.startsWith('/announced/model.json') || request.url?.startsWith('/streamed/model.json')) {
      response.writeHead(200, { 'content-length': Buffer.byteLength(modelJson) }).end(modelJson);
    } else if (request.url?.startsWith('/announced/shard.bin')) {
      response.writeHead(200, { 'content-length': shardBytes }).end(Buffer.alloc(shardBytes));
    } else {
      // No content-length: the cap must hold while the bytes arrive.
      response.writeHead(200);
      for (let i = 0; i < shardBytes / 512; i++) response.write(Buffer.alloc(512));
      response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  removeTempDir(workDir);
});

describe('model downloads have a size cap', () => {
  for (const how of ['announced', 'streamed'] as const) {
    test(`a download above the cap (${how} length) is refused with a RuntimeFailure, leaving nothing behind`, async () => {
      const target = path.join(workDir, how, 'model');
      await assert.rejects(downloadModelFiles(`${url}/${how}/model.json`, target, { timeoutMs: 5000, logger: silentLogger, maxBytes: 2048 }), (error: unknown) => {
        assert.ok(error instanceof RuntimeFailure, String(error));
        assert.match(error.message, new RegExp(`^Could not download ${url}/${how}/shard\\.bin: .*more than the 2048 bytes a model download may take`));
        return true;
      });
      assert.deepEqual(fs.readdirSync(path.dirname(target)), []);
    });
  }

  test('within the cap the same download succeeds', async () => {
    const record = await downloadModelFiles(`${url}/streamed/model.json`, path.join(workDir, 'ok', 'model'), { timeoutMs: 5000, logger: silentLogger, maxBytes: 8192 });
    assert.deepEqual(record.files.map((file) => file.bytes), [Buffer.byteLength(modelJson), shardBytes]);
  });
});
