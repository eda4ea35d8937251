import type { Job } from 'bullmq';
import type { TrainJobData, TrainJobResult } from './train-job';

export interface JobStatus {
  id: string;
  name: string;
  /** BullMQ's state, or cancelling / cancelled once a cancellation was asked for. */
  state: string;
  dataDir: string;
  config: Record<string, string>;
  progress: unknown;
  plan?: unknown;
  shards?: { total: number; done: number };
  attempts: number;
  exportDir?: string;
  version?: number;
  metrics?: unknown;
  /** Frozen-part outputs the training step computed itself and read from the cache (the shards filled it). */
  features?: { computed: number; fromCache: number; trainingExamples: number };
  resumed?: boolean;
  error?: string;
  createdAt: string;
  finishedAt?: string;
}

/** What GET /v1/jobs/:id answers. */
export async function jobStatus(job: Job<TrainJobData, TrainJobResult>, cancelled: string | undefined): Promise<JobStatus> {
  const state = await job.getState();
  const result = job.returnvalue ?? undefined;
  const finished = state === 'completed' || state === 'failed';
  let shards: JobStatus['shards'];
  if (job.data.shards) {
    const counts = await job.getDependenciesCount({ processed: true, unprocessed: true });
    shards = { total: job.data.shards, done: state === 'waiting-children' ? (counts.processed ?? 0) : job.data.step === 'train' ? job.data.shards : 0 };
  }
  return {
    id: job.id!,
    name: job.data.request.name,
    state: cancelled ? (finished ? (state === 'failed' ? 'cancelled' : state) : 'cancelling') : state,
    dataDir: job.data.request.dataDir,
    config: job.data.request.overrides,
    progress: job.progress,
    ...(job.data.plan ? { plan: job.data.plan } : {}),
    ...(shards ? { shards } : {}),
    attempts: job.attemptsMade,
    ...(result ? { exportDir: result.exportDir, version: result.version, metrics: result.metrics, features: result.features, resumed: result.resumed } : {}),
    ...(job.failedReason ? { error: job.failedReason } : {}),
    createdAt: new Date(job.timestamp).toISOString(),
    ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn).toISOString() } : {}),
  };
}
