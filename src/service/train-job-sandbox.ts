import type { SandboxedJob } from 'bullmq';
import { sandboxContext } from './sandbox-context';
import { processTrainJob, type TrainJobData, type TrainJobResult } from './train-job';

/**
 * The training job's processor, run by BullMQ in a thread of its own: training and report rendering
 * keep a thread busy for many seconds at a time, and the worker's main thread must stay free to renew
 * the job's lock, or the job would be declared stalled and taken by a second worker while it runs.
 */
export default function trainJobSandbox(job: SandboxedJob<TrainJobData, TrainJobResult>, token?: string, signal?: AbortSignal): Promise<TrainJobResult> {
  return processTrainJob(sandboxContext(), job, token, signal);
}
