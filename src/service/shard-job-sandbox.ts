import type { SandboxedJob } from 'bullmq';
import { sandboxContext } from './sandbox-context';
import type { ShardResult } from './shard-extractor';
import { processShardJob } from './shard-job';
import type { ShardSpec } from './shard-plan';

/** An extraction shard's processor, in a thread of its own for the same reason as train-job-sandbox.ts. */
export default function shardJobSandbox(job: SandboxedJob<ShardSpec, ShardResult>): Promise<ShardResult> {
  return processShardJob(sandboxContext(), job);
}
