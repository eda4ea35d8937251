import 'reflect-metadata';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { trainSmallExport, type SmallExport } from './serve-fixture';

/** dist/test/serve -> the repository root. */
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(repoRoot, 'bin', 'finetune.js');

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FINETUNE_') && name !== 'NODE_ENV'));
}

interface Started {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stderr: () => string;
  exit: Promise<number | null>;
}

const children: ChildProcessWithoutNullStreams[] = [];

/** Spawns `finetune serve ... --port 0 --json` and reads the address it printed. */
async function startCli(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [bin, 'serve', '--env', 'test', '--port', '0', '--json', ...args], { cwd: repoRoot, env: cleanEnv() });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n')) resolve(JSON.parse(line).url);
    });
    exit.then((code) => reject(new Error(`serve exited ${code} before listening:\n${stderr}`)));
  });
  return { child, url, stderr: () => stderr, exit };
}

describe('finetune serve (the CLI)', () => {
  let small: SmallExport;

  before(async () => {
    small = await trainSmallExport('shutdown');
  });

  // A failed assertion must not leave a server running.
  after(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('drains requests in flight on SIGTERM, refuses new connections, and exits 0', async () => {
    const server = await startCli(['--model-base-path', small.basePath, '--max-batch-size', '1', '--drain-seconds', '120']);
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const image = fs.readFileSync(path.join(small.data, small.labels[0], fs.readdirSync(path.join(small.data, small.labels[0]))[0]));
    const body = JSON.stringify({ instances: Array.from({ length: 8 }, () => ({ b64: image.toString('base64') })) });
    // One image per forward pass: 6 requests x 8 images keep the server busy for a while.
    const inFlight = Array.from({ length: 6 }, () =>
      fetch(`${server.url}/v1/models/shutdown:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { predictions: number[][] },
      })),
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    server.child.kill('SIGTERM');
    const signalled = Date.now();
    const answers = await Promise.all(inFlight);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 200, 200, 200],
      server.stderr(),
    );
    assert.ok(answers.every((a) => a.body.predictions.length === 8));
    assert.equal(await server.exit, 0, server.stderr());
    // Idle keep-alive connections (72 s) must not hold the shutdown up.
    assert.ok(Date.now() - signalled < 30_000, `stopped ${Date.now() - signalled} ms after SIGTERM`);
    assert.match(server.stderr(), /SIGTERM: finishing requests in flight/);
    await assert.rejects(fetch(`${server.url}/healthz`), 'nothing listens after shutdown');
  });

  it('after SIGTERM, stops within serve.drainSeconds although idle clients keep connections open', async () => {
    const server = await startCli(['--model-base-path', small.basePath, '--drain-seconds', '1']);
    const { port } = new URL(server.url);
    const connect = (first: string) =>
      new Promise<net.Socket>((resolve) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          if (first) socket.write(first);
          setTimeout(() => resolve(socket), 100);
        });
        socket.on('error', () => {});
      });
    // One sent half its headers, one half its body; neither sends more.
    const idle = [await connect('POST /v1/models/shutdown:predict HTTP/1.1\r\nHost: x\r\n'), await connect('POST /v1/models/shutdown:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"in')];
    server.child.kill('SIGTERM');
    const signalled = Date.now();
    assert.equal(await server.exit, 0, server.stderr());
    const took = Date.now() - signalled;
    assert.ok(took < 6000, `stopped ${took} ms after SIGTERM`);
    assert.ok(took >= 900, `stopped ${took} ms after SIGTERM, before the drain deadline`);
    assert.match(server.stderr(), /drain deadline of 1 s \(serve\.drainSeconds\) passed: closing \d+ connections? still open/);
    for (const socket of idle) socket.destroy();
  });

  it('exits 0 on SIGINT when idle', async () => {
    const server = await startCli(['--model-base-path', small.basePath]);
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    server.child.kill('SIGINT');
    assert.equal(await server.exit, 0, server.stderr());
  });

  it('refuses a missing base path, or a version folder given as the base path, with exit 2', async () => {
    const missing = spawn(process.execPath, [bin, 'serve', '--env', 'test', '--model-base-path', path.join(small.basePath, 'nope')], { cwd: repoRoot, env: cleanEnv() });
    let stderr = '';
    missing.stderr.on('data', (chunk) => (stderr += chunk));
    assert.equal(await new Promise((resolve) => missing.on('exit', resolve)), 2);
    assert.match(stderr, /does not exist\. Expected the folder <out>\/<name>/);

    const version = spawn(process.execPath, [bin, 'serve', '--env', 'test', '--model-base-path', small.exportDir], { cwd: repoRoot, env: cleanEnv() });
    stderr = '';
    version.stderr.on('data', (chunk) => (stderr += chunk));
    assert.equal(await new Promise((resolve) => version.on('exit', resolve)), 2);
    assert.match(stderr, /is one version of a model\. Expected its base path/);
  });
});
