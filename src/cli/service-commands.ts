import type { Command } from 'commander';
import { loadConfig, schemaLeaves, type ConfigSources } from '../config/load-config';
import { RuntimeFailure, UsageError } from '../errors';
import { StderrLogger } from '../logger';
import { readToken } from '../service/bearer-token';
import type { JobClient } from '../service/job-client';
import type { JobEvent } from '../service/job-events';
import { addConfigOptions } from './config-options';

interface CommonOptions {
  env?: string;
  config?: string;
  json?: boolean;
}

type Print = (result: unknown, options: CommonOptions, command: string) => void;

/** Resolves when SIGINT or SIGTERM arrives (once), after `stop` finished. */
function untilStopped(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.stderr.write(`${signal}: stopping\n`);
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      stop().then(resolve, resolve);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

function requireRedis(url: string, command: string): string {
  if (!url) throw new UsageError(`Missing --redis URL. Expected e.g. finetune ${command} --redis redis://127.0.0.1:6379 (or FINETUNE_SERVICE_REDIS).`);
  return url;
}

/** The configuration flags given to submit, except its own (service.*, export.name), as the job's overrides by key. */
function overridesFrom(flags: Record<string, string>): Record<string, string> {
  const byArg = new Map([...schemaLeaves()].map(([key, leaf]) => [leaf.arg, key]));
  return Object.fromEntries(
    Object.entries(flags)
      .map(([arg, value]) => [byArg.get(arg)!, value] as const)
      .filter(([key]) => !key.startsWith('service.') && key !== 'export.name'),
  );
}

function describeEvent(event: JobEvent): string {
  switch (event.type) {
    case 'progress':
      return `${event.stage}: ${event.done}/${event.total} ${event.unit}${event.detail ? `, ${event.detail}` : ''}`;
    case 'epoch':
      return `epoch ${JSON.stringify(event.record)}`;
    case 'log':
      return event.message;
    case 'warning':
      return `warning: ${event.message}`;
    case 'shard':
      return `shard ${event.index + 1}/${event.shards}: ${event.images} images (${event.computed} computed) in ${event.seconds.toFixed(1)} s on ${event.worker}`;
    default:
      return `${event.type} ${JSON.stringify({ ...event, id: undefined, at: undefined, type: undefined })}`;
  }
}

/** The job API's client. The service's modules (BullMQ, Redis, the HTTP client) load only for the commands that use them. */
async function jobClient(service: Parameters<typeof readToken>[0] & { api: string }): Promise<JobClient> {
  const { JobClient } = await import('../service/job-client');
  return new JobClient(service.api, readToken(service));
}

/** Streams a job's events to stderr until it ends; returns its final status, exit 1 when it failed. */
async function followJob(client: JobClient, id: string): Promise<unknown> {
  await client.follow(id, (event) => process.stderr.write(`[${event.at}] ${describeEvent(event)}\n`));
  const status = await client.status(id);
  if (status.state !== 'completed') throw Object.assign(new RuntimeFailure(`job ${id} ${status.state}: ${status.error ?? ''}`), { status });
  return status;
}

/** finetune worker, api, submit and jobs: the service (README: Service). Nothing here runs without them. */
export function addServiceCommands(program: Command, print: Print): void {
  const worker = program.command('worker').description('take training jobs and extraction shards from the Redis queue; runs until SIGTERM or Ctrl-C (see README: Service)');
  const workerFlags = addConfigOptions(worker, 'all');
  worker.action(async (options: CommonOptions) => {
    const sources: ConfigSources = { env: options.env, configFile: options.config, flags: workerFlags() };
    const { service } = loadConfig(sources).values;
    const { startJobWorker } = await import('../service/job-worker');
    const running = await startJobWorker({
      redisUrl: requireRedis(service.redis, 'worker'),
      concurrency: service.concurrency,
      lockSeconds: service.lockSeconds,
      workerConfig: sources,
      logger: new StderrLogger(),
    });
    await untilStopped(running.close);
  });

  const api = program.command('api').description('the job API over HTTP (POST /v1/jobs, GET /v1/jobs/:id[/events], DELETE /v1/jobs/:id) behind a bearer token');
  const apiFlags = addConfigOptions(api, 'all');
  api.action(async (options: CommonOptions) => {
    const sources: ConfigSources = { env: options.env, configFile: options.config, flags: apiFlags() };
    const config = loadConfig(sources).values;
    requireRedis(config.service.redis, 'api');
    const { startJobApi } = await import('../service/start-job-api');
    const running = await startJobApi(config, sources, new StderrLogger());
    if (options.json) process.stdout.write(`${JSON.stringify({ url: running.url, port: running.port })}\n`);
    await untilStopped(running.close);
  });

  const submit = program.command('submit').description("submit a training job to the job API: --data (a folder the workers share) or --upload (a folder or .tar.gz sent over HTTP); other configuration flags become the job's overrides");
  submit.option('--data <dir>', 'data folder on storage the workers share (under the API\'s service.dataRoots)');
  submit.option('--upload <path>', 'data folder (packed as .tar.gz) or .tar/.tar.gz archive to upload');
  submit.option('--follow', 'stream the job\'s events to stderr until it ends; exit 1 when it fails');
  const submitFlags = addConfigOptions(submit, 'all');
  submit.action(async (options: CommonOptions & { data?: string; upload?: string; follow?: boolean }) => {
    const flags = submitFlags();
    const config = loadConfig({ env: options.env, configFile: options.config, flags }).values;
    if (Boolean(options.data) === Boolean(options.upload)) throw new UsageError('Expected exactly one of --data DIR (shared storage) or --upload DIR|ARCHIVE.');
    const name = config.export.name || (() => { throw new UsageError('Missing --name NAME. Expected e.g. finetune submit --upload ./photos --name photos.'); })();
    const client = await jobClient(config.service);
    const overrides = overridesFrom(flags);
    const submitted = options.data ? await client.submitFolder(name, options.data, overrides) : await client.submitUpload(name, options.upload!, overrides);
    if (!options.follow) return print(submitted, options, 'submit');
    process.stderr.write(`job ${submitted.id} submitted\n`);
    print(await followJob(client, submitted.id), options, 'jobs');
  });

  const jobs = program.command('jobs').description('list jobs, show one (state, progress, plan, metrics, export), follow its events or cancel it');
  jobs.argument('[id]', 'a job id; none lists recent jobs');
  jobs.option('--follow', 'stream the job\'s events to stderr until it ends');
  jobs.option('--cancel', 'cancel the job (a running one stops after the current step)');
  const jobsFlags = addConfigOptions(jobs, ['service']);
  jobs.action(async (id: string | undefined, options: CommonOptions & { follow?: boolean; cancel?: boolean }) => {
    const config = loadConfig({ env: options.env, configFile: options.config, flags: jobsFlags() }).values;
    const client = await jobClient(config.service);
    if (!id) {
      if (options.follow || options.cancel) throw new UsageError('--follow and --cancel need a job id: finetune jobs ID --cancel.');
      return print(await client.list(), options, 'jobs');
    }
    if (options.cancel) return print(await client.cancel(id), options, 'jobs');
    print(options.follow ? await followJob(client, id) : await client.status(id), options, 'jobs');
  });
}
