import { inject, injectable } from 'inversify';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { chooseBackend } from '../backend/choose-backend';
import { FinetuneConfig } from '../config/schema';
import { workerCount } from '../config/worker-count';
import { DataError, RuntimeFailure } from '../errors';
import { Logger } from '../logger';
import { ImageDecoder } from '../preprocess/image-decoder';
import type { BodyParsers } from './body-parsers';
import { LimitedDecoder } from './limited-decoder';
import { ModelVersions } from './model-versions';
import { WorkerPriority } from './thread-priority';

export interface RunningServer {
  /** http://host:port */
  url: string;
  port: number;
  modelName: string;
  versions: ModelVersions;
  /**
   * Stops accepting connections, lets requests in flight finish for at most serve.drainSeconds, then
   * closes the connections left and unloads the models.
   */
  close(): Promise<void>;
}

/** `finetune serve`: the versions under a model base path, behind the REST API, on host:port from serve.*. */
@injectable()
export class ModelServer {
  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
    @inject(ImageDecoder) private readonly decoder: ImageDecoder,
  ) {}

  async start(modelBasePath: string): Promise<RunningServer> {
    const { serve } = this.config;
    const basePath = path.resolve(modelBasePath);
    if (!fs.existsSync(basePath) || !fs.statSync(basePath).isDirectory()) {
      throw new DataError(`Model base path ${modelBasePath} does not exist. Expected the folder <out>/<name> that finetune train exports versions into.`);
    }
    if (fs.existsSync(path.join(basePath, 'metadata.json'))) {
      throw new DataError(
        `${modelBasePath} is one version of a model. Expected its base path, the folder above it (${path.dirname(modelBasePath)}), whose numbered versions are served newest first.`,
      );
    }
    // fastify, prom-client and multipart parsing load here: 0.13 s that `train` and the other commands do not need.
    const [{ createPredictionServer }, { ServeMetrics }, { BodyParsers }] = await Promise.all([import('./prediction-server'), import('./serve-metrics'), import('./body-parsers')]);
    const backend = await chooseBackend(this.config.backend);
    this.logger.info(`backend: ${backend.name} (${backend.reason})`);
    const modelName = serve.modelName || path.basename(basePath);
    // Native backends compute off the JavaScript thread already; wasm and cpu need a worker for that.
    const thread = serve.inferenceThread === 'worker' && (backend.name === 'wasm' || backend.name === 'cpu') ? 'worker' : 'main';
    const workers = thread === 'worker' ? workerCount(serve.inferenceWorkers) : 1;
    const metrics = new ServeMetrics();
    const priority = new WorkerPriority(serve.workerNice, this.logger);
    const versions = new ModelVersions(basePath, {
      batching: { maxBatchSize: serve.maxBatchSize, batchTimeoutMs: serve.batchTimeoutMs, maxQueuedImages: serve.maxQueuedImages, onBatch: (size) => metrics.batchSize.observe(size) },
      pollSeconds: serve.pollSeconds,
      maxLoadedVersions: serve.maxLoadedVersions,
      logger: this.logger,
      inference: { thread, backend: backend.name, workers, loadTimeoutSeconds: serve.loadTimeoutSeconds, compiled: this.config.runtime.compiledForward, priority },
      onServing: (version) => metrics.servedVersion.set(version),
    });
    await versions.start();
    if (!versions.ready) this.logger.warn(`no version under ${basePath} yet; serving it once one appears`);
    const parsers = new BodyParsers(serve.parseWorkers, priority);
    const app = await createPredictionServer({
      modelName,
      versions,
      decoder: new LimitedDecoder(this.decoder, serve.maxInputPixels, serve.decodeConcurrency, priority),
      parsers,
      metrics,
      maxInstances: serve.maxInstances,
      maxInFlightRequests: serve.maxInFlightRequests,
      bodyLimitBytes: serve.bodyLimitBytes,
      requestTimeoutMs: serve.requestTimeoutMs,
      topK: serve.topK,
      logger: this.logger,
    });
    try {
      await app.listen({ port: serve.port, host: serve.host });
    } catch (error) {
      await versions.stop();
      await parsers.close();
      throw new RuntimeFailure(`Cannot listen on ${serve.host}:${serve.port}: ${(error as Error).message}. Choose another --port or --host.`);
    }
    const address = app.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;
    this.logger.info(`serving ${modelName} from ${basePath} at ${url}/v1/models/${modelName} (max batch ${serve.maxBatchSize}, wait ${serve.batchTimeoutMs} ms, inference ${thread === 'worker' ? `in ${workers} worker thread${workers > 1 ? 's' : ''}` : 'in the main thread'})`);
    let closing: Promise<void> | undefined;
    return {
      url,
      port: address.port,
      modelName,
      versions,
      close: () => (closing ??= this.drain(app, versions, parsers)),
    };
  }

  /** Lets requests in flight finish within serve.drainSeconds; then closes what is left, so shutdown always ends. */
  private async drain(app: FastifyInstance, versions: ModelVersions, parsers: BodyParsers): Promise<void> {
    const deadlineMs = this.config.serve.drainSeconds * 1000;
    const started = Date.now();
    const closed = app.close();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), deadlineMs)));
    if ((await Promise.race([closed, deadline])) === 'deadline') {
      app.server.getConnections((_error, count) =>
        this.logger.warn(`drain deadline of ${this.config.serve.drainSeconds} s (serve.drainSeconds) passed: closing ${count} connection${count === 1 ? '' : 's'} still open`),
      );
      app.server.closeAllConnections();
    }
    clearTimeout(timer);
    await closed;
    // Handlers whose connection was cut may still hold a version: they get what is left of the deadline (at least 1 s).
    await versions.stop(Math.max(1000, deadlineMs - (Date.now() - started)));
    await parsers.close();
  }
}
