/**
 * Worker thread of the logistic-regression baseline (logistic-aside.ts): the L2 path is plain
 * TypeScript arithmetic, so on a second core it costs the heads' cross-validation no time.
 *
 * workerData: a LogisticJob; one message back: {result} or {error}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { crossValidateLogistic } from './cross-validated-logistic';
import type { LogisticJob } from './logistic-aside';

const job = workerData as LogisticJob;
try {
  const result = crossValidateLogistic(job.features, job.labels, job.numClasses, job.foldOf, job.strengths);
  parentPort!.postMessage({ result });
} catch (error) {
  parentPort!.postMessage({ error: error instanceof Error ? error.message : String(error) });
}
