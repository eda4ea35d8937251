import os from 'node:os';

/** Most worker threads a default (0) starts: beyond 4 the workers' memory grows faster than their throughput. */
const maxDefaultWorkers = 4;

/** The number of worker threads a setting asks for: 0 means one per core, up to 4 (preprocess.extractWorkers, serve.inferenceWorkers). */
export function workerCount(configured: number): number {
  return configured > 0 ? configured : Math.min(os.availableParallelism(), maxDefaultWorkers);
}
