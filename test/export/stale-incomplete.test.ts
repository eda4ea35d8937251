import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type { ExportMetadata } from '../../src/export/export-metadata';
import { incompletePrefix, writeExport } from '../../src/export/write-export';
import { saveModelToDir } from '../../src/models/model-files';
import { removeStaleTemporaries } from '../../src/stale-temporaries';
import { temporaryDir } from '../helpers/sample-data';

const metadata = { formatVersion: 1, format: 'layers-model', name: 'tiny', labels: ['a', 'b'], input: { height: 4, width: 4 } } as unknown as Omit<ExportMetadata, 'version'>;
/** The pid of a process that has exited. */
const exitedPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

function folderWithFile(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.json'), '{}');
  return dir;
}

describe('.incomplete-* folders left by a crash', () => {
  before(async () => {
    await tf.setBackend('wasm');
  });

  it("the next export removes a crashed writer's folder and keeps a live concurrent writer's", async () => {
    const base = path.join(temporaryDir('export'), 'tiny');
    const crashed = folderWithFile(path.join(base, `${incompletePrefix}${exitedPid()}-a1b2c3`));
    const concurrent = folderWithFile(path.join(base, `${incompletePrefix}${process.ppid}-d4e5f6`));
    const input = tf.input({ shape: [4, 4, 3] });
    const model = tf.model({ inputs: input, outputs: tf.layers.globalAveragePooling2d({}).apply(input) as tf.SymbolicTensor });
    let during: string[] = [];
    await writeExport({
      outDir: path.dirname(base),
      name: 'tiny',
      writeModel: async (dir) => {
        during = fs.readdirSync(base);
        await saveModelToDir(model, dir);
      },
      metadata,
      verify: async () => {},
    });
    model.dispose();
    assert.ok(!during.includes(path.basename(crashed)), 'removed before writing');
    assert.ok(during.some((name) => name.startsWith(`${incompletePrefix}${process.pid}-`)), "this writer's own folder carries its pid");
    assert.deepEqual(fs.readdirSync(base).sort(), [path.basename(concurrent), '1'].sort());
  });

  it('a folder without a pid (written by an earlier version) goes only once it is a day old', () => {
    const dir = temporaryDir('temporaries');
    const recent = folderWithFile(path.join(dir, `${incompletePrefix}Ab12Cd`));
    const old = folderWithFile(path.join(dir, `${incompletePrefix}Zz98Yy`));
    const dayAgo = new Date(Date.now() - 25 * 3600 * 1000);
    fs.utimesSync(old, dayAgo, dayAgo);
    assert.deepEqual(removeStaleTemporaries(dir, incompletePrefix), [old]);
    assert.ok(fs.existsSync(recent));
  });
});
