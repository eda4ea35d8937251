import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Piscina from 'piscina';
import { scorePath, type CrossValidatedLogistic, type FoldCoordinates, type FoldPath } from './cross-validated-logistic';
import type { FeatureMatrix } from './logistic-regression';
import runLogisticTask = require('./logistic-task');
import { foldCount } from './stratified-folds';

/** One feature matrix's logistic regression: its samples, labels, folds and L2 path. */
export interface LogisticJob {
  features: FeatureMatrix;
  labels: number[];
  numClasses: number;
  foldOf: number[];
  strengths: number[];
}

/** What a pool thread computes: one fold's path, or the refit on every sample at a chosen strength. */
export type LogisticTask = { kind: 'fold'; job: LogisticJob; fold: number } | { kind: 'refit'; job: LogisticJob; strength: number };

export type Refit = Pick<CrossValidatedLogistic, 'model' | 'standardization'>;
export type ScoredPath = Pick<CrossValidatedLogistic, 'path' | 'strength' | 'estimate'> & {
  /** Each fold's span coordinates, for the heads' folds. */
  folds: FoldCoordinates[];
};

/**
 * Worker threads for the baseline's plain arithmetic (piscina), one per core: the folds of every
 * readout are queued together, largest first, so the cores finish together and the main thread
 * stays free for tfjs. Without a built worker script (sources run directly) tasks run here.
 */
export class LogisticPool {
  private readonly threads?: Piscina;

  constructor(maxThreads = os.availableParallelism()) {
    const filename = path.join(__dirname, 'logistic-task.js');
    if (fs.existsSync(filename)) this.threads = new Piscina({ filename, maxThreads, minThreads: 0, idleTimeout: 1000 });
  }

  run<T extends FoldPath | Refit>(task: LogisticTask): Promise<T> {
    if (!this.threads) return Promise.resolve().then(() => runLogisticTask(task) as T);
    return this.threads.run(task) as Promise<T>;
  }

  /** Ends the threads; tasks still queued or running are rejected. */
  async destroy(): Promise<void> {
    await this.threads?.destroy();
  }
}

/**
 * Every job's folds on the pool (largest matrices first), pooled and scored per job: no refit.
 * `onFold` hears of each fold path as it ends (how many of how many).
 */
export async function crossValidatePaths(pool: LogisticPool, jobs: LogisticJob[], onFold?: (done: number, total: number) => void): Promise<ScoredPath[]> {
  const shared = jobs.map(sharedJob);
  const tasks = shared.flatMap((job, j) => Array.from({ length: foldCount(job.foldOf) }, (_, fold) => ({ j, fold })));
  tasks.sort((a, b) => shared[b.j].features.cols - shared[a.j].features.cols);
  let done = 0;
  const counted = (path: FoldPath) => {
    onFold?.(++done, tasks.length);
    return path;
  };
  const results = await Promise.all(tasks.map(({ j, fold }) => pool.run<FoldPath>({ kind: 'fold', job: shared[j], fold }).then(counted)));
  return shared.map((job, j) => {
    const folds = results.filter((_, t) => tasks[t].j === j);
    const coordinates = folds.flatMap((fold) => (fold.coordinates ? [fold.coordinates] : []));
    return { ...scorePath(folds, job.labels, job.numClasses, job.foldOf, job.strengths), folds: coordinates };
  });
}

/** The refit of one job at its chosen strength, on the pool. */
export async function refitOnPool(pool: LogisticPool, job: LogisticJob, scored: ScoredPath): Promise<CrossValidatedLogistic> {
  const refit = await pool.run<Refit>({ kind: 'refit', job: sharedJob(job), strength: scored.strength });
  const { path, strength, estimate } = scored;
  return { path, strength, estimate, ...refit };
}

/** The features in shared memory, so that every task of the job reads them without a copy. */
function sharedJob(job: LogisticJob): LogisticJob {
  if (job.features.data.buffer instanceof SharedArrayBuffer) return job;
  const data = new Float64Array(new SharedArrayBuffer(job.features.data.byteLength));
  data.set(job.features.data);
  return { ...job, features: { ...job.features, data } };
}

/** A baseline computed in the background: awaited later, or stopped when the run fails elsewhere. */
export interface LogisticAside {
  result: Promise<CrossValidatedLogistic>;
  stop(): Promise<void>;
  /** The folds' span coordinates, when the cross-validation is done already (select-features'). */
  folds?: FoldCoordinates[];
}

/** The whole cross-validated logistic regression (folds, then the refit) in the background, on a pool of its own. */
export function crossValidateLogisticAside(job: LogisticJob): LogisticAside {
  const pool = new LogisticPool();
  const result = crossValidatePaths(pool, [job]).then(([scored]) => refitOnPool(pool, job, scored));
  return asideOn(pool, result);
}

/** `result` as an aside whose pool ends when it settles; its failure is reported to whoever awaits it. */
export function asideOn(pool: LogisticPool, result: Promise<CrossValidatedLogistic>): LogisticAside {
  const settled = result.finally(() => pool.destroy());
  settled.catch(() => {});
  return { result: settled, stop: () => pool.destroy() };
}
