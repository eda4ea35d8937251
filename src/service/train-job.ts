import { UnrecoverableError, WaitingChildrenError, WaitingError, type Queue, type SandboxedJob } from 'bullmq';
import type { Redis } from 'ioredis';
import fs from 'node:fs';
import path from 'node:path';
import type { ConfigSources, ResolvedConfig } from '../config/load-config';
import { createContainer } from '../container/container';
import { FinetuneError } from '../errors';
import type { Logger } from '../logger';
import { RunPreparation } from '../pipeline/prepare-run';
import { TrainPipeline, type TrainResult } from '../pipeline/train-pipeline';
import { tailEpochs } from './epoch-tail';
import { cancelReason } from './job-cancellation';
import { resolveJobConfig } from './job-config';
import type { JobEvents } from './job-events';
import { JobReporter } from './job-reporter';
import type { JobRequest } from './job-request';
import { planShards } from './shard-plan';

/** The abort reason of a worker that stops (SIGTERM, Ctrl-C): its job goes back to the queue, to be resumed elsewhere. */
export const workerStopping = 'worker stopping';

export interface TrainJobData {
  request: JobRequest;
  /** plan: check the data, plan, enqueue the extraction shards; train: the train pipeline (continuing the job's run if there is one). */
  step: 'plan' | 'train';
  shards?: number;
  plan?: unknown;
}

/** What a finished job keeps (its BullMQ return value). */
export interface TrainJobResult {
  exportDir: string;
  version: number;
  runId: string;
  runDir: string;
  plan: TrainResult['plan'];
  metrics: TrainResult['metrics'];
  features: TrainResult['features'];
  timings: TrainResult['timings'];
  resumed: boolean;
}

type TrainJob = SandboxedJob<TrainJobData, TrainJobResult>;

export interface TrainJobContext {
  workerConfig: ConfigSources;
  events: JobEvents;
  shardQueue: Queue;
  redis: Redis;
  logger: Logger;
  worker: string;
}

/**
 * A training job in steps (BullMQ's step-job pattern, the step kept in the job's data): first the
 * plan, whose cut and pooling make the feature cache keys, and the extraction shards enqueued as
 * children any worker may take; the job then waits for its children and comes back to train with
 * the same pipeline as `finetune train`, which finds every feature in the shared cache. A job taken
 * again after its worker died continues the run it had started from its last checkpoint.
 */
export async function processTrainJob(context: TrainJobContext, job: TrainJob, token: string | undefined, signal: AbortSignal | undefined): Promise<TrainJobResult> {
  const jobId = job.id;
  const reporter = new JobReporter(context.events, jobId, context.worker, context.logger, (progress) => job.updateProgress(progress));
  try {
    const cancelled = await cancelReason(context.redis, jobId);
    if (cancelled) throw new UnrecoverableError(`cancelled: ${cancelled}`);
    const resolved = resolveJobConfig(context.workerConfig, jobId, job.data.request);
    if (job.data.step === 'plan') {
      const shards = await planAndEnqueueShards(context, job, resolved, reporter);
      if (shards > 0 && (await job.moveToWaitingChildren(token!))) throw new WaitingChildrenError();
    }
    return await train(job, resolved, reporter, signal);
  } catch (error) {
    if (signal?.aborted && signal.reason === workerStopping) {
      reporter.emit({ type: 'log', message: `worker ${context.worker} stopping: the job goes back to the queue and resumes from its last checkpoint` });
      await job.moveToWait(token);
      throw new WaitingError();
    }
    throw failure(error, signal);
  } finally {
    await reporter.flush();
  }
}

async function planAndEnqueueShards(context: TrainJobContext, job: TrainJob, resolved: ResolvedConfig, reporter: JobReporter): Promise<number> {
  const config = resolved.values;
  reporter.emit({ type: 'started', step: 'plan' });
  const prepared = await createContainer(config, reporter.logger, reporter.progress).get(RunPreparation).prepare(job.data.request.dataDir);
  prepared.base.dispose();
  const shards = planShards(job.id, job.data.request, prepared, config.augment.views, config.service.shardSize);
  // Announced before any shard can report, so that watchers see the plan first.
  reporter.emit({ type: 'planned', plan: prepared.plan, shards: shards.length, images: shards.reduce((sum, shard) => sum + shard.items.length, 0) });
  await reporter.flush();
  // Deterministic child ids: a planner that dies after enqueueing and plans again adds nothing twice.
  await context.shardQueue.addBulk(
    shards.map((shard) => ({
      name: 'extract',
      data: shard,
      opts: {
        jobId: `${job.id}-shard-${shard.index}`,
        parent: { id: job.id, queue: job.queueQualifiedName },
        failParentOnFailure: true,
        attempts: config.service.attempts,
        removeOnComplete: { age: 24 * 3600 },
      },
    })),
  );
  await job.updateData({ ...job.data, step: 'train', shards: shards.length, plan: prepared.plan });
  return shards.length;
}

async function train(job: TrainJob, resolved: ResolvedConfig, reporter: JobReporter, signal: AbortSignal | undefined): Promise<TrainJobResult> {
  const runsDir = resolved.values.runs.dir;
  const resume = startedRun(runsDir);
  reporter.emit({ type: 'started', step: 'train', ...(resume ? { resumed: resume } : {}) });
  const epochs = tailEpochs(runsDir, (record) => reporter.emit({ type: 'epoch', record }));
  let result: TrainResult;
  try {
    result = await createContainer(resolved.values, reporter.logger, reporter.progress).get(TrainPipeline).run(job.data.request.dataDir, resolved, { resume, signal });
  } finally {
    epochs.stop();
  }
  return {
    exportDir: result.exportDir,
    version: result.version,
    runId: result.runId,
    runDir: result.runDir,
    plan: result.plan,
    metrics: result.metrics,
    features: result.features,
    timings: result.timings,
    resumed: result.training.resumed,
  };
}

/** The run this job started before (its runs folder holds one), to be resumed; undefined on a first start. */
function startedRun(runsDir: string): string | undefined {
  if (!fs.existsSync(runsDir)) return undefined;
  const runs = fs.readdirSync(runsDir).filter((entry) => fs.existsSync(path.join(runsDir, entry, 'config.json')));
  return runs.length > 0 ? path.join(runsDir, runs.sort().at(-1)!) : undefined;
}

/**
 * How a failure leaves the job: waiting for children is no failure; a cancellation and a data or
 * configuration error (exit code 2) fail at once, never retried (UnrecoverableError); anything else
 * is retried while attempts remain (a retry resumes the run). The worker's main thread reports the
 * final state once BullMQ has stored it (final-job-events.ts).
 */
function failure(error: unknown, signal: AbortSignal | undefined): unknown {
  if (error instanceof WaitingChildrenError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (signal?.aborted && !message.startsWith('cancelled')) return new UnrecoverableError(`cancelled: ${String(signal.reason ?? 'by request')}`);
  if (error instanceof FinetuneError && error.exitCode === 2) return new UnrecoverableError(message);
  return error;
}
