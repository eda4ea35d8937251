import type { AddressInfo } from 'node:net';
import type { ConfigSources } from '../config/load-config';
import type { FinetuneConfig } from '../config/schema';
import { RuntimeFailure } from '../errors';
import type { Logger } from '../logger';
import { readToken, requireTokenOffLoopback } from './bearer-token';
import { createJobApi } from './job-api';
import { createRedisConnection } from './redis-connection';

export interface RunningJobApi {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** `finetune api`: the job API on service.host:service.port, refusing to start off loopback without a token. */
export async function startJobApi(config: FinetuneConfig, configSources: ConfigSources, logger: Logger): Promise<RunningJobApi> {
  const { host, port } = config.service;
  const token = readToken(config.service);
  requireTokenOffLoopback(host, token);
  const redis = createRedisConnection(config.service.redis, logger, 'finetune-api');
  const api = await createJobApi({ redis, config, configSources, token, logger });
  try {
    await api.app.listen({ host, port });
  } catch (error) {
    await api.close();
    redis.disconnect();
    throw new RuntimeFailure(`Cannot listen on ${host}:${port}: ${(error as Error).message}. Choose another --api-port or --api-host.`);
  }
  const address = api.app.server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  logger.info(`job API at ${url}/v1/jobs (${token ? 'bearer token required' : 'no token: loopback only'})`);
  return {
    url,
    port: address.port,
    close: async () => {
      await api.close();
      redis.disconnect();
    },
  };
}
