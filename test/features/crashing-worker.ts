/**
 * Stand-in for frozen-worker.js in the failure tests: it says it is ready, then fails on the first
 * batch the way FROZEN_TEST_FAILURE says: 'exit' (the thread exits with code 3) or 'throw' (an
 * uncaught exception).
 */
import { parentPort } from 'node:worker_threads';

const mode = process.env.FROZEN_TEST_FAILURE ?? 'exit';
parentPort!.on('message', () => {
  if (mode === 'throw') throw new Error('injected failure in the worker');
  process.exit(3);
});
parentPort!.postMessage({ type: 'ready', backend: 'none' });
