import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { crossValidateLogistic, type CrossValidatedLogistic } from './cross-validated-logistic';
import type { FeatureMatrix } from './logistic-regression';

export interface LogisticJob {
  features: FeatureMatrix;
  labels: number[];
  numClasses: number;
  foldOf: number[];
  strengths: number[];
}

export interface LogisticAside {
  result: Promise<CrossValidatedLogistic>;
  /** Ends the worker (when the selection fails elsewhere); the result is then never used. */
  stop(): Promise<void>;
}

/**
 * Starts the cross-validated logistic regression in a worker thread, to run beside the heads'
 * cross-validation on the main thread (tfjs). Where no worker can run (no built worker script), it
 * runs here when its result is first awaited.
 */
export function crossValidateLogisticAside(job: LogisticJob): LogisticAside {
  const script = path.join(__dirname, 'logistic-worker.js');
  if (!fs.existsSync(script)) {
    return { result: Promise.resolve().then(() => crossValidateLogistic(job.features, job.labels, job.numClasses, job.foldOf, job.strengths)), stop: async () => {} };
  }
  const worker = new Worker(script, { workerData: job });
  const result = new Promise<CrossValidatedLogistic>((resolve, reject) => {
    worker.once('message', (message: { result?: CrossValidatedLogistic; error?: string }) => {
      if (message.result) resolve(message.result);
      else reject(new Error(`The logistic-regression baseline failed: ${message.error}`));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`The logistic-regression worker exited (code ${code}) before answering.`)));
  });
  result.catch(() => {}).finally(() => void worker.terminate());
  return { result, stop: async () => void (await worker.terminate()) };
}
