import { Option, type Command } from 'commander';
import { configSchema } from '../config/schema';

interface Leaf {
  key: string;
  doc: string;
  env: string;
  arg: string;
  default: unknown;
  format: unknown;
}

function leaves(node: object = configSchema, prefix = ''): Leaf[] {
  return Object.entries(node).flatMap(([key, value]) => {
    const name = prefix ? `${prefix}.${key}` : key;
    return 'doc' in value ? [{ key: name, ...value }] : leaves(value, name);
  });
}

/** Configuration sections ('train') or keys ('train.batchSize') a command reads; 'all' for every key. */
export type ConfigScope = 'all' | string[];

function inScope(key: string, scope: ConfigScope): boolean {
  return scope === 'all' || scope.some((entry) => key === entry || key.startsWith(`${entry}.`));
}

/**
 * Adds a flag for every configuration key the command reads (`scope`), with help text from the
 * schema; the others stay settable from config files and FINETUNE_* variables. Returns a reader of the flags given.
 */
export function addConfigOptions(command: Command, scope: ConfigScope): () => Record<string, string> {
  const options = leaves().filter((leaf) => inScope(leaf.key, scope)).map((leaf) => {
    const choices = Array.isArray(leaf.format) ? ` (${leaf.format.join('|')})` : '';
    const option = new Option(`--${leaf.arg} <value>`, `${leaf.doc}${choices} [${leaf.key}, ${leaf.env}, default ${JSON.stringify(leaf.default)}]`);
    command.addOption(option);
    return { leaf, option };
  });
  command.option('--env <name>', 'configuration environment: configs/<name>.json over configs/default.json (default: NODE_ENV or development)');
  command.option('--config <file>', 'a JSON file layered over the environment file');
  command.option('--json', 'print exactly one JSON document on stdout');
  return () => {
    const given: Record<string, string> = {};
    const values = command.opts();
    for (const { leaf, option } of options) {
      const value = values[option.attributeName()];
      if (value !== undefined) given[leaf.arg] = String(value);
    }
    return given;
  };
}
