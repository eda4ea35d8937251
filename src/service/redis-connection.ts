import IORedis, { type Redis } from 'ioredis';
import { UsageError } from '../errors';
import type { Logger } from '../logger';

/** Longest wait between two reconnection attempts while Redis is away. */
const maxRetryDelayMs = 5_000;

/** The queue names every worker and API of one deployment share. */
export const queueNames = { train: 'finetune-train', shard: 'finetune-shard' } as const;

/** Refuses anything but a redis:// or rediss:// URL, naming what was received. */
export function requireRedisUrl(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')) {
    throw new UsageError(`Received --redis ${JSON.stringify(url)}. Expected a Redis URL such as redis://127.0.0.1:6379 (service.redis, FINETUNE_SERVICE_REDIS).`);
  }
  return url;
}

/**
 * A connection that waits for Redis instead of failing: commands queue while it is away
 * (maxRetriesPerRequest null, as BullMQ requires), reconnection backs off up to 5 s, and one warning
 * is logged per outage, one line when it is back.
 */
export function createRedisConnection(url: string, logger: Logger, name: string): Redis {
  const connection = new IORedis(requireRedisUrl(url), {
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    connectionName: name,
    retryStrategy: (attempt) => Math.min(200 * attempt, maxRetryDelayMs),
  });
  let away = false;
  connection.on('error', (error: Error) => {
    if (away) return;
    away = true;
    logger.warn(`redis ${redactPassword(url)} unavailable (${error.message}); waiting for it to come back`);
  });
  connection.on('ready', () => {
    if (!away) return;
    away = false;
    logger.info(`redis ${redactPassword(url)} is back`);
  });
  return connection;
}

function redactPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
