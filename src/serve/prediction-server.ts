import multipart from '@fastify/multipart';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import type { Logger } from '../logger';
import type { BodyParsers } from './body-parsers';
import type { LimitedDecoder } from './limited-decoder';
import type { ModelVersions } from './model-versions';
import { publicMetadata, withoutAbsolutePaths } from './public-metadata';
import { RequestError } from './request-error';
import type { ServeMetrics } from './serve-metrics';
import type { ServedVersion } from './served-version';

export interface PredictionServerOptions {
  modelName: string;
  versions: ModelVersions;
  decoder: LimitedDecoder;
  parsers: BodyParsers;
  metrics: ServeMetrics;
  maxInstances: number;
  /** :predict and :labels requests handled at once; more get 503 before their body is read. */
  maxInFlightRequests: number;
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  topK: number;
  logger: Logger;
}

type Verb = 'predict' | 'labels';
const verbs: Verb[] = ['predict', 'labels'];
const imageContentTypes = /^(image\/[\w.+-]+|application\/octet-stream)$/i;
/** Content types that are certainly not the JSON of :predict (TF Serving reads any other body as JSON). */
const notJsonContentTypes = /^(image\/|multipart\/)/i;

function errorBody(message: string): string {
  return JSON.stringify({ error: message });
}

/**
 * The REST API, shaped like TensorFlow Serving's:
 *   GET  /v1/models/<name>[/versions/<v>]            version status
 *   GET  /v1/models/<name>[/versions/<v>]/metadata   labels, input contract, plan, metrics
 *   POST /v1/models/<name>[/versions/<v>]:predict    {"instances": [...]} -> {"predictions": [[p, ...], ...]}
 *   POST /v1/models/<name>[/versions/<v>]:labels     one uploaded image (raw body or multipart) -> top-k labels
 *   GET  /healthz, /readyz, /metrics
 * Every error is JSON {"error": "..."} saying what was received and what was expected.
 */
export async function createPredictionServer(options: PredictionServerOptions): Promise<FastifyInstance> {
  const { modelName, versions, decoder, metrics } = options;
  let closing = false;
  const app = Fastify({
    bodyLimit: options.bodyLimitBytes,
    requestTimeout: options.requestTimeoutMs,
    // Node checks request deadlines on this interval (30 s by default, too coarse for short timeouts).
    http: { headersTimeout: options.requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, Math.max(50, options.requestTimeoutMs / 4)) },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    clientErrorHandler: (error: NodeJS.ErrnoException, socket: Socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      const status = timedOut ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const message = timedOut
        ? `The request did not arrive in full within ${options.requestTimeoutMs} ms (serve.requestTimeoutMs). Send the whole body promptly.`
        : `Malformed HTTP request (${error.code ?? error.message}). Expected an HTTP/1.1 request.`;
      metrics.requests.inc({ route: 'client-error', method: '-', status: String(status) });
      metrics.errors.inc({ route: 'client-error', status: String(status) });
      const body = errorBody(message);
      if (socket.writable) {
        socket.write(`HTTP/1.1 ${status} ${timedOut ? 'Request Timeout' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      }
      socket.destroy();
    },
  });

  // Every body arrives as bytes: :predict parses them (as JSON, whatever the content type says, as TF
  // Serving does) in a worker thread; :labels takes them as an image. Multipart has its own parser.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  await app.register(multipart, { limits: { fileSize: options.bodyLimitBytes, files: 1, fields: 10, parts: 11 } });

  // Admission before the body is read: a request over the bound costs a header parse, not a body.
  let inFlight = 0;
  app.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'POST') return;
    if (inFlight >= options.maxInFlightRequests) {
      reply.header('connection', 'close');
      throw new RequestError(503, `The server is at capacity: ${inFlight} requests are in flight (serve.maxInFlightRequests). Retry after the Retry-After header's seconds.`, 1);
    }
    inFlight += 1;
    reply.raw.once('close', () => (inFlight -= 1));
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = String(reply.statusCode);
    metrics.requests.inc({ route, method: request.method, status });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 400) metrics.errors.inc({ route, status });
  });
  // While draining, answers close their connection: an idle keep-alive connection would hold close() up.
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send({ error: `No route ${request.method} ${request.url}. Expected GET /v1/models/${modelName}[/versions/<v>][/metadata], POST /v1/models/${modelName}[/versions/<v>]:predict or :labels, GET /healthz, /readyz or /metrics.` });
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { status, message } = describeError(error, options, request);
    if (status >= 500 && status !== 503) options.logger.warn(`${request.method} ${request.url}: ${error.stack ?? error.message}`);
    if (error instanceof RequestError && error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
    reply.code(status).send({ error: message });
  });

  const checkName = (name: string) => {
    if (name !== modelName) throw new RequestError(404, `Model "${name}" is not served here. Expected "${modelName}".`);
  };
  const parseVersion = (text: string): number => {
    if (!/^\d+$/.test(text) || Number(text) < 1) throw new RequestError(400, `Version "${text}" is not a version number. Expected a positive integer, e.g. /versions/1.`);
    return Number(text);
  };
  /** "<name-or-version>:<verb>" from the last path segment. */
  const splitVerb = (target: string): { head: string; verb: Verb } => {
    const at = target.lastIndexOf(':');
    const verb = target.slice(at + 1) as Verb;
    if (at < 0 || !verbs.includes(verb)) {
      throw new RequestError(404, `No method "${at < 0 ? '' : verb}" in ${target}. Expected ${target.slice(0, Math.max(at, 0)) || modelName}:predict or :labels.`);
    }
    return { head: target.slice(0, at), verb };
  };

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (closing) return reply.code(503).send({ error: 'The server is shutting down.' });
    const health = versions.workerHealth;
    if (!health) return reply.code(503).send({ error: `No version of ${modelName} is loaded yet.` });
    const workers = `${health.alive}/${health.total}`;
    if (health.alive === 0) return reply.code(503).send({ error: `No inference worker of version ${versions.newestVersion} is running (${workers}); replacements are starting.`, workers });
    return { status: 'ready', model: modelName, version: String(versions.newestVersion), workers };
  });
  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.get<{ Params: { name: string } }>('/v1/models/:name', async (request) => {
    checkName(request.params.name);
    return { model_version_status: versions.statuses() };
  });
  app.get<{ Params: { name: string; version: string } }>('/v1/models/:name/versions/:version', async (request) => {
    checkName(request.params.name);
    return { model_version_status: versions.statuses(parseVersion(request.params.version)) };
  });

  const metadata = (version: number | undefined) =>
    versions.use(version, async (served) => ({
      model_spec: { name: modelName, signature_name: 'serving_default', version: String(served.version) },
      metadata: publicMetadata(served.model.metadata),
    }));
  app.get<{ Params: { name: string } }>('/v1/models/:name/metadata', async (request) => {
    checkName(request.params.name);
    return metadata(undefined);
  });
  app.get<{ Params: { name: string; version: string } }>('/v1/models/:name/versions/:version/metadata', async (request) => {
    checkName(request.params.name);
    return metadata(parseVersion(request.params.version));
  });

  const run = (verb: Verb, version: number | undefined, request: FastifyRequest, reply: FastifyReply) =>
    verb === 'predict' ? predict(version, request, reply) : labels(version, request, reply);

  const predict = async (version: number | undefined, request: FastifyRequest, reply: FastifyReply) => {
    const type = request.headers['content-type'] ?? '';
    if (notJsonContentTypes.test(type)) {
      throw new RequestError(415, `:predict takes Content-Type application/json; received ${type}. Upload a single image to :labels instead.`);
    }
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    return versions.use(version, async (served) => {
      const { key, instances } = await options.parsers.parse(body, served.size, options);
      const pixels = await Promise.all(
        instances.map((instance, i) => ('pixels' in instance ? instance.pixels : decoder.pixels(instance.encoded, `${key}[${i}].b64`, served))),
      );
      const predictions = await served.predict(pixels);
      metrics.images.inc(pixels.length);
      reply.header('x-model-version', String(served.version));
      return key === 'instances' ? { predictions } : { outputs: predictions };
    });
  };

  const labels = async (version: number | undefined, request: FastifyRequest, reply: FastifyReply) => {
    const topK = topKOf(request.query as Record<string, unknown>, options.topK);
    let image: Buffer;
    if (request.isMultipart()) {
      const file = await request.file();
      if (!file) throw new RequestError(400, 'The multipart body holds no file. Expected one image file field, e.g. curl -F image=@cat.jpg.');
      image = await file.toBuffer();
    } else if (Buffer.isBuffer(request.body) && imageContentTypes.test(request.headers['content-type'] ?? '')) {
      image = request.body;
    } else {
      const type = request.headers['content-type'] ?? 'no Content-Type';
      throw new RequestError(
        415,
        `Content-Type ${type} is not accepted here. :labels takes one image as the raw body (Content-Type image/* or application/octet-stream) or as multipart/form-data; received ${type}. For JSON use :predict.`,
      );
    }
    if (image.length === 0) throw new RequestError(400, 'The uploaded image is empty (0 bytes). Expected an encoded image.');
    return versions.use(version, async (served: ServedVersion) => {
      const pixels = await decoder.pixels(image, 'uploaded image', served);
      const [probabilities] = await served.predict([pixels]);
      metrics.images.inc();
      reply.header('x-model-version', String(served.version));
      const ranked = probabilities
        .map((probability, i) => ({ label: served.model.labels[i], probability }))
        .sort((a, b) => b.probability - a.probability)
        .slice(0, topK);
      return { model_version: String(served.version), predictions: ranked };
    });
  };

  app.post<{ Params: { target: string } }>('/v1/models/:target', async (request, reply) => {
    const { head, verb } = splitVerb(request.params.target);
    checkName(head);
    return run(verb, undefined, request, reply);
  });
  app.post<{ Params: { name: string; target: string } }>('/v1/models/:name/versions/:target', async (request, reply) => {
    checkName(request.params.name);
    const { head, verb } = splitVerb(request.params.target);
    return run(verb, parseVersion(head), request, reply);
  });
  return app;
}

function topKOf(query: Record<string, unknown>, fallback: number): number {
  const raw = query.top_k;
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new RequestError(400, `top_k is ${JSON.stringify(raw)}; expected a positive integer.`);
  return value;
}

/** Status and message for anything a handler or fastify threw. */
function describeError(error: FastifyError, options: PredictionServerOptions, request: FastifyRequest): { status: number; message: string } {
  if (error instanceof RequestError) return { status: error.statusCode, message: error.message };
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
      return { status: 413, message: `The request body is larger than ${options.bodyLimitBytes} bytes (serve.bodyLimitBytes). Send fewer or smaller images.` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        message: `Content-Type ${request.headers['content-type'] ?? '(none)'} is not accepted. Expected application/json for :predict, or image/*, application/octet-stream or multipart/form-data for :labels.`,
      };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, message: 'The body is not valid JSON although Content-Type says application/json. Expected {"instances": [...]}.' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, message: 'The JSON body is empty. Expected {"instances": [...]}.' };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, message: 'Content-Length does not match the body received.' };
    case 'FST_FILES_LIMIT':
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return { status: 413, message: 'The multipart body holds too many parts. Expected one image file.' };
    case 'FST_MP_PREMATURE_CLOSE':
      return { status: 400, message: 'The multipart body ended before it was complete.' };
  }
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500;
  if (status === 400 && error instanceof SyntaxError) {
    return { status, message: `The body is not valid JSON (${error.message}). Expected {"instances": [...]}.` };
  }
  if (status < 500) return { status, message: error.message };
  // The details (with the server's file paths) go to the log, not to the client.
  return { status, message: `Internal error: ${withoutAbsolutePaths(error.message)}` };
}
