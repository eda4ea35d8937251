import multipart from '@fastify/multipart';
import { Queue, type Job } from 'bullmq';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ConfigSources } from '../config/load-config';
import type { FinetuneConfig } from '../config/schema';
import { ConfigError } from '../errors';
import type { Logger } from '../logger';
import { RequestError } from '../serve/request-error';
import { unpackArchive } from './archive-upload';
import { bearerMatches } from './bearer-token';
import { cancelReason, requestCancel } from './job-cancellation';
import { resolveJobConfig } from './job-config';
import { JobEvents, type JobEvent, type JobEventBody } from './job-events';
import { checkJobName, checkOverrides, confineDataDir, type JobRequest } from './job-request';
import { jobStatus } from './job-status';
import { queueNames } from './redis-connection';
import type { TrainJobData, TrainJobResult } from './train-job';

export interface JobApiOptions {
  redis: Redis;
  config: FinetuneConfig;
  /** The API's configuration layers: a job's overrides are checked against them before it is queued. */
  configSources: ConfigSources;
  /** Required as "Authorization: Bearer <token>" on every /v1 route; undefined only on loopback. */
  token: string | undefined;
  logger: Logger;
}

const keepFinishedSeconds = 7 * 24 * 3600;
const finishedStates = new Set(['completed', 'failed']);

/**
 * The job API: POST /v1/jobs (a data folder under service.dataRoots as JSON, or an archive as
 * multipart), GET /v1/jobs[/:id], GET /v1/jobs/:id/events (server-sent events, in order, replayed
 * from the start or after Last-Event-ID), DELETE /v1/jobs/:id (cancel). Workers do the work.
 */
export async function createJobApi(options: JobApiOptions): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
  const { config, redis } = options;
  const queue = new Queue<TrainJobData, TrainJobResult>(queueNames.train, { connection: redis });
  const events = new JobEvents(redis);
  // Redis going away is reported once by the connection (redis-connection.ts); the queue waits for it.
  queue.on('error', () => undefined);
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  await app.register(multipart, { limits: { fileSize: config.service.maxUploadBytes, files: 1, fields: 4, parts: 5 } });

  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/') || !options.token) return;
    if (!bearerMatches(request.headers.authorization, options.token)) {
      throw new RequestError(401, 'Missing or wrong bearer token. Expected the header "Authorization: Bearer <token>" (the token in the API\'s service.tokenFile).');
    }
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { status, message } = describeError(error, config);
    if (status >= 500) options.logger.warn(`${request.method} ${request.url}: ${error.stack ?? error.message}`);
    reply.code(status).send({ error: message });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: `No route ${request.method} ${request.url}. Expected POST /v1/jobs, GET /v1/jobs[/<id>[/events]], DELETE /v1/jobs/<id> or GET /healthz.` });
  });

  const findJob = async (id: string): Promise<Job<TrainJobData, TrainJobResult>> => {
    const job = /^[A-Za-z0-9-]{1,64}$/.test(id) ? await queue.getJob(id) : undefined;
    if (!job) throw new RequestError(404, `No job "${id}". List jobs with GET /v1/jobs.`);
    return job;
  };

  app.get('/healthz', async () => ({ status: 'ok', redis: redis.status }));

  app.post('/v1/jobs', async (request, reply) => {
    const id = randomUUID();
    const jobRequest = request.isMultipart() ? await receiveUpload(request, id, config) : fromJson(request.body, config);
    try {
      resolveJobConfig(options.configSources, id, jobRequest);
    } catch (error) {
      if (error instanceof ConfigError) throw new RequestError(400, error.message);
      throw error;
    }
    await queue.add('train', { request: jobRequest, step: 'plan' }, {
      jobId: id,
      attempts: config.service.attempts,
      removeOnComplete: { age: keepFinishedSeconds },
      removeOnFail: { age: keepFinishedSeconds },
    });
    await events.append(id, { type: 'queued', name: jobRequest.name, dataDir: jobRequest.dataDir });
    options.logger.info(`job ${id} queued: ${jobRequest.name} on ${jobRequest.dataDir}`);
    reply.code(201).send({ id, status: `/v1/jobs/${id}`, events: `/v1/jobs/${id}/events` });
  });

  app.get('/v1/jobs', async () => {
    const jobs = await queue.getJobs(['active', 'waiting', 'waiting-children', 'delayed', 'prioritized', 'completed', 'failed'], 0, 99);
    const statuses = await Promise.all(jobs.map(async (job) => jobStatus(job, await cancelReason(redis, job.id!))));
    return { jobs: statuses.sort((a, b) => b.createdAt.localeCompare(a.createdAt)) };
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', async (request) => {
    const job = await findJob(request.params.id);
    return jobStatus(job, await cancelReason(redis, job.id!));
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id/events', async (request, reply) => {
    const job = await findJob(request.params.id);
    const lastEventId = request.headers['last-event-id'];
    const after = typeof lastEventId === 'string' && /^\d+-\d+$/.test(lastEventId) ? lastEventId : '0';
    reply.hijack();
    const stream = reply.raw;
    stream.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const gone = new AbortController();
    request.raw.on('close', () => gone.abort());
    const heartbeat = setInterval(() => stream.write(': keep-alive\n\n'), 15_000);
    try {
      const write = (event: JobEvent) => stream.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      await events.follow(job.id!, after, write, gone.signal, () => storedOutcome(queue, job.id!, redis));
    } catch (error) {
      stream.write(`event: error\ndata: ${JSON.stringify({ error: (error as Error).message })}\n\n`);
    } finally {
      clearInterval(heartbeat);
      stream.end();
    }
  });

  app.delete<{ Params: { id: string } }>('/v1/jobs/:id', async (request, reply) => {
    const job = await findJob(request.params.id);
    const state = await job.getState();
    if (finishedStates.has(state)) throw new RequestError(409, `Job ${job.id} has ${state === 'completed' ? 'completed' : 'failed'} already; there is nothing to cancel.`);
    const reason = 'cancelled through the API';
    await requestCancel(redis, job.id!, reason);
    await events.append(job.id!, { type: 'cancelling', reason });
    reply.code(202).send({ id: job.id, state: 'cancelling' });
  });

  return {
    app,
    close: async () => {
      await app.close();
      await queue.close();
    },
  };
}

/** The outcome BullMQ stored for a finished job, as its final event; undefined while it runs. */
async function storedOutcome(queue: Queue<TrainJobData, TrainJobResult>, id: string, redis: Redis): Promise<JobEventBody | undefined> {
  const job = await queue.getJob(id);
  if (!job) return { type: 'failed', error: 'the job was removed', retrying: false, cancelled: false };
  const state = await job.getState();
  if (state === 'completed') return { type: 'completed', exportDir: job.returnvalue.exportDir, version: job.returnvalue.version, metrics: job.returnvalue.metrics };
  if (state === 'failed') return { type: 'failed', error: job.failedReason, retrying: false, cancelled: Boolean(await cancelReason(redis, id)) };
  return undefined;
}

function fromJson(body: unknown, config: FinetuneConfig): JobRequest {
  if (!body || typeof body !== 'object') {
    throw new RequestError(400, 'Expected a JSON body {"name": "...", "data": "/shared/photos", "config": {"train.epochs": 5}} or a multipart upload with an "archive" file.');
  }
  const { name, data, config: overrides } = body as Record<string, unknown>;
  return { name: checkJobName(name), dataDir: confineDataDir(data, config.service.dataRoots), overrides: checkOverrides(overrides) };
}

/** A multipart upload: fields "name" and "config" (JSON), file "archive" (.tar or .tar.gz), unpacked into <jobsDir>/<id>/data. */
async function receiveUpload(request: FastifyRequest, id: string, config: FinetuneConfig): Promise<JobRequest> {
  const jobDir = path.resolve(config.service.jobsDir, id);
  const archive = path.join(jobDir, 'upload.tar');
  const fields: Record<string, string> = {};
  let received = false;
  fs.mkdirSync(jobDir, { recursive: true });
  try {
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        fields[part.fieldname] = String(part.value);
        continue;
      }
      if (part.fieldname !== 'archive' || received) throw new RequestError(400, `Unexpected file field "${part.fieldname}". Expected one file named "archive".`);
      await pipeline(part.file, fs.createWriteStream(archive));
      if (part.file.truncated) throw new RequestError(413, `The archive is larger than service.maxUploadBytes ${config.service.maxUploadBytes} bytes.`);
      received = true;
    }
    if (!received) throw new RequestError(400, 'The multipart body has no "archive" file. Expected -F archive=@data.tar.gz.');
    let overrides: unknown;
    try {
      overrides = fields.config ? JSON.parse(fields.config) : undefined;
    } catch {
      throw new RequestError(400, `The "config" field is not JSON: ${fields.config.slice(0, 100)}. Expected e.g. {"train.epochs": 5}.`);
    }
    const name = checkJobName(fields.name);
    const checked = checkOverrides(overrides);
    const dataDir = await unpackArchive(archive, path.join(jobDir, 'data'), { maxFiles: config.service.maxArchiveFiles, maxBytes: config.service.maxArchiveBytes });
    return { name, dataDir: fs.realpathSync(dataDir), overrides: checked };
  } catch (error) {
    fs.rmSync(jobDir, { recursive: true, force: true });
    throw error;
  } finally {
    fs.rmSync(archive, { force: true });
  }
}

function describeError(error: FastifyError, config: FinetuneConfig): { status: number; message: string } {
  if (error instanceof RequestError) return { status: error.statusCode, message: error.message };
  switch (error.code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return { status: 413, message: `The archive is larger than service.maxUploadBytes ${config.service.maxUploadBytes} bytes.` };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: 'The JSON body is larger than 1 MiB. Upload data as a multipart "archive" file.' };
    case 'FST_FILES_LIMIT':
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return { status: 413, message: 'The multipart body holds too many parts. Expected the fields "name" and "config" and one file "archive".' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, message: 'Expected Content-Type application/json (a data folder) or multipart/form-data (an archive).' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, message: 'The body is not a JSON object. Expected {"name": "...", "data": "/shared/photos", "config": {...}}.' };
  }
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
  return { status, message: status === 500 ? `Internal error: ${error.message}` : error.message };
}
