import convict from 'convict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors';
import { packageRoot } from '../package-root';
import { registerConfigFormats } from './formats';
import { configSchema, type FinetuneConfig } from './schema';

export interface ConfigSources {
  /** Environment name: configs/<env>.json is layered over configs/default.json. */
  env?: string;
  /** An extra JSON file layered over the environment's file. */
  configFile?: string;
  /** CLI flags by their schema `arg` name, as typed. */
  flags?: Record<string, string>;
  /** Process environment (FINETUNE_* variables and NODE_ENV). Defaults to process.env. */
  environment?: NodeJS.ProcessEnv;
  /** Folder of <env>.json files. Defaults to the package's configs/. */
  configsDir?: string;
}

export interface ResolvedConfig {
  env: string;
  values: FinetuneConfig;
  /** Where each key's value came from: "default", a file path, "env NAME" or "flag --name". */
  origins: Record<string, string>;
}

interface SchemaLeaf {
  env: string;
  arg: string;
}

/** Flattened schema: "train.batchSize" -> its env variable and flag. */
export function schemaLeaves(node: object = configSchema, prefix = ''): Map<string, SchemaLeaf> {
  const leaves = new Map<string, SchemaLeaf>();
  for (const [key, value] of Object.entries(node)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if ('doc' in value) leaves.set(name, { env: value.env, arg: value.arg });
    else for (const [k, v] of schemaLeaves(value, name)) leaves.set(k, v);
  }
  return leaves;
}

function flattenKeys(obj: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([key, value]) => {
    const name = prefix ? `${prefix}.${key}` : key;
    return value && typeof value === 'object' && !Array.isArray(value)
      ? flattenKeys(value as Record<string, unknown>, name)
      : [name];
  });
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`Cannot read configuration file ${file}: ${(error as Error).message}.`);
  }
  try {
    const parsed = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('expected a JSON object');
    return parsed;
  } catch (error) {
    throw new ConfigError(`Configuration file ${file} is not a JSON object: ${(error as Error).message}.`);
  }
}

let formatsRegistered = false;

/**
 * Resolves the configuration: configs/default.json, then configs/<env>.json, then --config FILE,
 * then FINETUNE_* variables, then flags. Unknown keys, variables and invalid values are refused.
 */
export function loadConfig(sources: ConfigSources = {}): ResolvedConfig {
  if (!formatsRegistered) {
    registerConfigFormats();
    formatsRegistered = true;
  }
  const environment = sources.environment ?? process.env;
  const configsDir = sources.configsDir ?? path.join(packageRoot, 'configs');
  const env = sources.env ?? environment.NODE_ENV ?? 'development';
  const leaves = schemaLeaves();

  const unknownVariables = Object.keys(environment).filter(
    (name) => name.startsWith('FINETUNE_') && ![...leaves.values()].some((leaf) => leaf.env === name),
  );
  if (unknownVariables.length > 0) {
    const known = [...leaves.values()].map((leaf) => leaf.env).join(', ');
    throw new ConfigError(`Unknown environment variable ${unknownVariables.join(', ')}. Expected one of: ${known}.`);
  }

  const envFile = path.join(configsDir, `${env}.json`);
  if (!fs.existsSync(envFile)) {
    const available = fs.readdirSync(configsDir).filter((f) => f.endsWith('.json') && f !== 'default.json');
    throw new ConfigError(
      `Unknown environment "${env}": there is no ${envFile}. Expected one of: ${available.map((f) => f.replace(/\.json$/, '')).join(', ')}.`,
    );
  }
  const files = [path.join(configsDir, 'default.json'), envFile, ...(sources.configFile ? [path.resolve(sources.configFile)] : [])];

  const origins: Record<string, string> = Object.fromEntries([...leaves.keys()].map((key) => [key, 'default']));
  const flags = sources.flags ?? {};
  const args = Object.entries(flags).map(([arg, value]) => `--${arg}=${value}`);
  const config = convict<FinetuneConfig>(configSchema, { env: environment, args });
  const fileOfKey: Record<string, string> = {};
  for (const file of files) {
    const content = readJson(file);
    config.load(content);
    for (const key of flattenKeys(content)) fileOfKey[key] = origins[key] = path.relative(process.cwd(), file) || file;
  }
  for (const [key, leaf] of leaves) {
    if (environment[leaf.env] !== undefined) origins[key] = `env ${leaf.env}`;
    if (flags[leaf.arg] !== undefined) origins[key] = `flag --${leaf.arg}`;
  }

  try {
    config.validate({ allowed: 'strict' });
  } catch (error) {
    const lines = (error as Error).message.split('\n').map((line) => {
      // convict appends the value only when it is truthy, so restate it for every key.
      const match = /^([\w.]+): (.*?)(?:: value was .*)?$/.exec(line);
      if (match && origins[match[1]]) {
        return `  ${match[1]} (from ${origins[match[1]]}): ${match[2]}, received ${JSON.stringify(config.get(match[1] as never))}`;
      }
      const undeclared = /param '([^']+)' not declared/.exec(line);
      if (undeclared) {
        return `  ${undeclared[1]}: unknown key in ${fileOfKey[undeclared[1]] ?? 'a configuration file'}. Expected one of: ${[...leaves.keys()].join(', ')}`;
      }
      return `  ${line}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return { env, values: config.getProperties(), origins };
}
