import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { WorkerPriority } from '../../src/serve/thread-priority';

/** Runs lowerThreadPriority(steps) in a worker thread; answers that thread's nice value after it, and the reason it failed. */
function lowerInWorker(steps: number): Promise<{ nice: number; failure?: string }> {
  const module = path.join(__dirname, '../../src/serve/thread-priority.js');
  const code = `
    const os = require('node:os');
    const { parentPort, workerData } = require('node:worker_threads');
    const failure = require(workerData.module).lowerThreadPriority(workerData.steps);
    parentPort.postMessage({ nice: os.getPriority(), failure });`;
  const worker = new Worker(code, { eval: true, workerData: { module, steps } });
  return new Promise<{ nice: number; failure?: string }>((resolve, reject) => worker.once('message', resolve).once('error', reject)).finally(() => worker.terminate());
}

describe('thread priority', () => {
  it('lowerThreadPriority lowers the calling thread only, by the steps given (0: unchanged)', { skip: process.platform !== 'linux' }, async () => {
    const own = os.getPriority();
    assert.deepEqual(await lowerInWorker(3), { nice: Math.min(19, own + 3), failure: undefined });
    assert.deepEqual(await lowerInWorker(0), { nice: own, failure: undefined });
    assert.equal(os.getPriority(), own, 'the thread that started the workers');
  });

  it('WorkerPriority logs the first failure once, naming the setting, and goes on', () => {
    const warnings: string[] = [];
    const priority = new WorkerPriority(10, { info() {}, warn: (message) => warnings.push(message) });
    priority.failed(undefined);
    priority.failed('EACCES: permission denied');
    priority.failed('EPERM: operation not permitted');
    assert.deepEqual(warnings, [
      "cannot lower the priority of the server's worker threads by 10 (serve.workerNice): EACCES: permission denied. They compete with the thread answering HTTP at its priority.",
    ]);
  });
});
