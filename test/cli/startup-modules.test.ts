import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';

/** dist/test/cli -> dist/src/cli/main.js, what bin/finetune.js loads first. */
const main = path.resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');

describe('the CLI at startup', () => {
  it("loads no server, metrics, queue or chart library before a command needs it (train's startup)", () => {
    const heavy = ['fastify', 'prom-client', '@fastify/multipart', 'bullmq', 'ioredis', 'vega', 'vega-lite'];
    const script = `require(${JSON.stringify(main)});
      const files = Object.keys(require.cache);
      const heavy = ${JSON.stringify(heavy)};
      console.log(JSON.stringify(heavy.filter((name) => files.some((file) => file.includes('/node_modules/' + name + '/')))));`;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout.trim().split('\n').pop()!), []);
  });
});
