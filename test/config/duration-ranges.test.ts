import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { durationFormatNames } from '../../src/config/formats';
import { loadConfig } from '../../src/config/load-config';
import { configSchema } from '../../src/config/schema';
import { ConfigError } from '../../src/errors';

type Leaf = { format: unknown; env: string };

function leaves(node: object, prefix = ''): [string, Leaf][] {
  return Object.entries(node).flatMap(([key, value]) => {
    const name = prefix ? `${prefix}.${key}` : key;
    return 'doc' in value ? [[name, value as Leaf] as [string, Leaf]] : leaves(value, name);
  });
}

/** Settings whose name says they are a time span. */
const durations = leaves(configSchema).filter(([key]) => /(Ms|Seconds)$/.test(key));
const envOf = new Map(durations.map(([key, leaf]) => [key, leaf.env]));

function loadWith(key: string, value: string): unknown {
  const configsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'durations-'));
  fs.writeFileSync(path.join(configsDir, 'default.json'), '{}');
  try {
    return loadConfig({ configsDir, env: 'default', environment: { [envOf.get(key)!]: value } });
  } finally {
    fs.rmSync(configsDir, { recursive: true, force: true });
  }
}

describe('every duration setting has a bounded range (a timer past 2^31 ms fires at once)', () => {
  test('the schema has duration settings, each with a duration format', () => {
    assert.ok(durations.length >= 6, `found ${durations.map(([k]) => k).join(', ')}`);
    for (const [key, leaf] of durations) assert.ok(durationFormatNames.includes(String(leaf.format)), `${key} has format ${String(leaf.format)}`);
  });

  for (const [key] of durations) {
    test(`${key}: an absurd value is refused, naming the key and the range`, () => {
      let caught: unknown;
      try {
        loadWith(key, '3000000000');
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof ConfigError, `${key}=3000000000 was accepted`);
      assert.match(caught.message, new RegExp(key.replace('.', '\\.')));
      assert.match(caught.message, /in \d+(\.\d+)?\.\.\d+ \((one hour|one day)\)/);
    });
  }

  test('serve.pollSeconds 3000000 (the reported overflow) is refused', () => {
    assert.throws(() => loadWith('serve.pollSeconds', '3000000'), /serve\.pollSeconds.*0\.01\.\.86400/s);
  });
});
