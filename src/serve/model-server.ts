import { inject, injectable } from 'inversify';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chooseBackend } from '../backend/choose-backend';
import { FinetuneConfig } from '../config/schema';
import { DataError, RuntimeFailure } from '../errors';
import { Logger } from '../logger';
import { ImageDecoder } from '../preprocess/image-decoder';
import { ModelVersions } from './model-versions';
import { createPredictionServer } from './prediction-server';
import { ServeMetrics } from './serve-metrics';

export interface RunningServer {
  /** http://host:port */
  url: string;
  port: number;
  modelName: string;
  versions: ModelVersions;
  /** Stops accepting connections, lets requests in flight finish, then unloads the models. */
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
    const backend = await chooseBackend(this.config.backend);
    this.logger.info(`backend: ${backend.name} (${backend.reason})`);
    const modelName = serve.modelName || path.basename(basePath);
    // Native backends compute off the JavaScript thread already; wasm and cpu need a worker for that.
    const thread = serve.inferenceThread === 'worker' && (backend.name === 'wasm' || backend.name === 'cpu') ? 'worker' : 'main';
    const workers = thread === 'worker' ? serve.inferenceWorkers || Math.min(os.availableParallelism(), 4) : 1;
    const metrics = new ServeMetrics();
    const versions = new ModelVersions(basePath, {
      batching: { maxBatchSize: serve.maxBatchSize, batchTimeoutMs: serve.batchTimeoutMs, onBatch: (size) => metrics.batchSize.observe(size) },
      pollSeconds: serve.pollSeconds,
      maxLoadedVersions: serve.maxLoadedVersions,
      logger: this.logger,
      inference: { thread, backend: backend.name, workers, compiled: this.config.runtime.compiledForward },
      onServing: (version) => metrics.servedVersion.set(version),
    });
    await versions.start();
    if (!versions.ready) this.logger.warn(`no version under ${basePath} yet; serving it once one appears`);
    const app = await createPredictionServer({
      modelName,
      versions,
      decoder: this.decoder,
      metrics,
      maxInstances: serve.maxInstances,
      maxInputPixels: this.config.preprocess.maxInputPixels,
      bodyLimitBytes: serve.bodyLimitBytes,
      requestTimeoutMs: serve.requestTimeoutMs,
      topK: serve.topK,
      logger: this.logger,
    });
    try {
      await app.listen({ port: serve.port, host: serve.host });
    } catch (error) {
      await versions.stop();
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
      close: () =>
        (closing ??= (async () => {
          await app.close();
          await versions.stop();
        })()),
    };
  }
}
