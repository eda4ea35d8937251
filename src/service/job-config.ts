import path from 'node:path';
import { loadConfig, schemaLeaves, type ConfigSources, type ResolvedConfig } from '../config/load-config';
import type { JobRequest } from './job-request';

/**
 * A job's configuration: the worker's own layers (environment file, --config, variables, flags) with
 * the job's overrides as flags on top, its export name, and a runs folder of its own under runs.dir
 * (<runs.dir>/job-<id>), so that whichever worker takes the job finds the run to resume there.
 */
export function resolveJobConfig(worker: ConfigSources, jobId: string, request: JobRequest): ResolvedConfig {
  const leaves = schemaLeaves();
  const overrideFlags = Object.fromEntries(Object.entries(request.overrides).map(([key, value]) => [leaves.get(key)!.arg, value]));
  const runsDir = loadConfig(worker).values.runs.dir;
  const resolved = loadConfig({
    ...worker,
    flags: { ...worker.flags, ...overrideFlags, name: request.name, 'runs-dir': jobRunsDir(runsDir, jobId) },
  });
  return withoutSecrets(resolved);
}

export function jobRunsDir(runsDir: string, jobId: string): string {
  return path.join(runsDir, `job-${jobId}`);
}

/** The resolved configuration without the API token: it is written into run folders and export metadata. */
export function withoutSecrets(resolved: ResolvedConfig): ResolvedConfig {
  const { token, ...service } = resolved.values.service;
  return { ...resolved, values: { ...resolved.values, service: { ...service, token: token ? '[redacted]' : '' } } };
}
