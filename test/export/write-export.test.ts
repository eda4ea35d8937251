import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type { ExportMetadata } from '../../src/export/export-metadata';
import { loadExport, resolveExportDir } from '../../src/export/load-export';
import { listVersions, versionDir, writeExport } from '../../src/export/write-export';
import { saveModelToDir } from '../../src/models/model-files';
import { temporaryDir } from '../helpers/sample-data';

function tinyModel(): tf.LayersModel {
  const input = tf.input({ shape: [4, 4, 3] });
  const pooled = tf.layers.globalAveragePooling2d({}).apply(input) as tf.SymbolicTensor;
  const output = tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }).apply(pooled);
  return tf.model({ inputs: input, outputs: output as tf.SymbolicTensor });
}

const metadata = { formatVersion: 1, format: 'layers-model', name: 'tiny', labels: ['a', 'b'], input: { height: 4, width: 4 } } as unknown as Omit<ExportMetadata, 'version'>;

describe('writeExport', () => {
  before(async () => {
    await tf.setBackend('wasm');
  });

  it('numbers versions 1, 2, 3 and never overwrites one', async () => {
    const out = temporaryDir('export');
    const model = tinyModel();
    const dirs = [];
    for (let i = 0; i < 3; i++) dirs.push((await writeExport({ outDir: out, name: 'tiny', writeModel: (dir) => saveModelToDir(model, dir), metadata, verify: async () => {} })).dir);
    assert.deepEqual(dirs, [1, 2, 3].map((v) => path.join(out, 'tiny', String(v))));
    assert.deepEqual(listVersions(path.join(out, 'tiny')), [1, 2, 3]);
    assert.equal(JSON.parse(fs.readFileSync(path.join(dirs[1], 'metadata.json'), 'utf8')).version, 2);
    assert.equal(resolveExportDir(path.join(out, 'tiny')), dirs[2], 'the model base folder resolves to the newest version');
    model.dispose();
  });

  it('creates versions readable by other users (0755 folders, 0644 files under umask 022)', async () => {
    const out = temporaryDir('export');
    const model = tinyModel();
    const previous = process.umask(0o022);
    try {
      const { dir } = await writeExport({ outDir: out, name: 'tiny', writeModel: (d) => saveModelToDir(model, d), metadata, verify: async () => {} });
      assert.equal(fs.statSync(dir).mode & 0o777, 0o755);
      for (const file of fs.readdirSync(dir)) assert.equal(fs.statSync(path.join(dir, file)).mode & 0o777, 0o644, file);
    } finally {
      process.umask(previous);
      model.dispose();
    }
  });

  it('reads zero-padded version folders (0003 is version 3, as in TF Serving) and numbers past them', async () => {
    const out = temporaryDir('export');
    const model = tinyModel();
    const first = await writeExport({ outDir: out, name: 'tiny', writeModel: (d) => saveModelToDir(model, d), metadata, verify: async () => {} });
    const base = path.join(out, 'tiny');
    fs.renameSync(first.dir, path.join(base, '0003'));
    assert.deepEqual(listVersions(base), [3]);
    assert.equal(versionDir(base, 3), path.join(base, '0003'));
    assert.equal(resolveExportDir(base), path.join(base, '0003'));
    assert.deepEqual((await loadExport(base)).labels, ['a', 'b']);
    const next = await writeExport({ outDir: out, name: 'tiny', writeModel: (d) => saveModelToDir(model, d), metadata, verify: async () => {} });
    assert.equal(next.version, 4);
    model.dispose();
  });

  it('leaves no version and no temporary folder when verification fails', async () => {
    const out = temporaryDir('export');
    const model = tinyModel();
    await assert.rejects(
      writeExport({ outDir: out, name: 'tiny', writeModel: (dir) => saveModelToDir(model, dir), metadata, verify: async () => { throw new Error('predictions differ'); } }),
      /predictions differ/,
    );
    assert.deepEqual(fs.readdirSync(path.join(out, 'tiny')), []);
    model.dispose();
  });

  it('takes the next number when another writer took the version first', async () => {
    const out = temporaryDir('export');
    const model = tinyModel();
    await writeExport({
      outDir: out,
      name: 'tiny',
      writeModel: (dir) => saveModelToDir(model, dir),
      metadata,
      // A concurrent run finishes version 1 while this one is verifying.
      verify: async () => {
        fs.mkdirSync(path.join(out, 'tiny', '1'));
        fs.writeFileSync(path.join(out, 'tiny', '1', 'model.json'), '{}');
      },
    });
    assert.deepEqual(listVersions(path.join(out, 'tiny')), [1, 2]);
    assert.equal(fs.readFileSync(path.join(out, 'tiny', '1', 'model.json'), 'utf8'), '{}', 'version 1 untouched');
    assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'tiny', '2', 'metadata.json'), 'utf8')).version, 2);
    model.dispose();
  });

  it('round-trips: the reloaded export predicts exactly what was saved', async () => {
    const out = temporaryDir('export');
    const model = tinyModel();
    const { dir } = await writeExport({ outDir: out, name: 'tiny', writeModel: (dir) => saveModelToDir(model, dir), metadata, verify: async () => {} });
    const loaded = await loadExport(dir);
    const x = tf.randomUniform([3, 4, 4, 3], 0, 255, 'float32', 3);
    const difference = tf.max(tf.abs(tf.sub(model.predict(x) as tf.Tensor, loaded.predict(x as tf.Tensor4D)))).dataSync()[0];
    assert.equal(difference, 0);
    assert.deepEqual(loaded.labels, ['a', 'b']);
    x.dispose();
    loaded.dispose();
    model.dispose();
  });

  it('refuses an export whose labels do not match the model outputs', async () => {
    const out = temporaryDir('export');
    const model = tinyModel();
    const { dir } = await writeExport({ outDir: out, name: 'tiny', writeModel: (dir) => saveModelToDir(model, dir), metadata, verify: async () => {} });
    fs.writeFileSync(path.join(dir, 'labels.txt'), 'a\nb\nc\n');
    await assert.rejects(loadExport(dir), /2 outputs but labels.txt lists 3 labels/);
    model.dispose();
  });

  it('says what is wrong with a folder that is not an export', async () => {
    assert.throws(() => resolveExportDir('/nonexistent/model'), /does not exist/);
    assert.throws(() => resolveExportDir(temporaryDir('empty')), /no metadata.json and no numbered versions/);
  });
});
