import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What /metrics reports, in Prometheus text format: requests, errors, latency, batch sizes, the version served. */
export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'finetune_serve_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status code.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'finetune_serve_request_errors_total',
    help: 'Requests answered with a 4xx or 5xx status, by route pattern and status code.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'finetune_serve_request_duration_seconds',
    help: 'Time from request to response, by route pattern.',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'finetune_serve_batch_size',
    help: 'Images per forward pass (micro-batches of concurrent requests).',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });
  readonly images = new Counter({
    name: 'finetune_serve_images_total',
    help: 'Images classified.',
    registers: [this.registry],
  });
  readonly servedVersion = new Gauge({
    name: 'finetune_serve_model_version',
    help: 'Newest version of the model being served.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'finetune_serve_' });
  }
}
