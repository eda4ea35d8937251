import 'reflect-metadata';
import { loadConfig } from '../../src/config/load-config';
import type { FinetuneConfig } from '../../src/config/schema';
import { createContainer } from '../../src/container/container';
import { silentLogger, type Logger } from '../../src/logger';
import { temporaryDir } from './sample-data';

/** The test environment's configuration with private export and cache folders, plus any flags. */
export function testConfig(flags: Record<string, string> = {}): FinetuneConfig {
  return loadConfig({
    env: 'test',
    environment: {},
    flags: { out: temporaryDir('exports'), 'cache-dir': temporaryDir('cache'), 'runs-dir': temporaryDir('runs'), ...flags },
  }).values;
}

export function testContainer(config: FinetuneConfig, logger: Logger = silentLogger) {
  return createContainer(config, logger);
}
