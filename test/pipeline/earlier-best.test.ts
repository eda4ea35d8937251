import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { RuntimeFailure } from '../../src/errors';
import { listVersions } from '../../src/export/write-export';
import { TrainPipeline, type TrainResult } from '../../src/pipeline/train-pipeline';
import { readCheckpoint, writeCheckpoint } from '../../src/train/checkpoint';
import { testConfig, testContainer } from '../helpers/pipeline';
import { copySample } from '../helpers/sample-data';

/**
 * A checkpoint that passes its checksum but holds a worse model (a diverged run, or one rewritten with
 * a fresh checksum): every weight zero, the last bias favouring class 0, so it always answers class 0.
 */
function replaceWithConstantModel(file: string): void {
  const saved = readCheckpoint<Record<string, unknown>>(file)!;
  const weights = saved.tensors.weights.map((tensor, i, all) =>
    i === all.length - 1 ? tf.tensor(Array.from({ length: tensor.size }, (_, k) => (k === 0 ? 5 : 0)), tensor.shape) : tf.zerosLike(tensor),
  );
  writeCheckpoint(file, saved.state, { ...saved.tensors, weights });
  tf.dispose([...weights, ...Object.values(saved.tensors).flat()]);
}

describe("never exporting below the run's own earlier best without saying so", () => {
  const data = copySample({ classes: 2, perClass: 12 });
  // No baseline: it would replace the constant head below (it must beat it), and this is the check that comes after.
  const flags = { policy: 'head', 'image-size': '96', epochs: '4', name: 'best', baseline: 'false' };
  let first: TrainResult;
  let config: ReturnType<typeof testConfig>;

  before(async () => {
    config = testConfig(flags);
    first = await testContainer(config).get(TrainPipeline).run(data);
    assert.ok(first.metrics.val.accuracy >= 0.75, `the first run reaches ${first.metrics.val.accuracy}`);
  });

  it('a resumed run whose model is worse is exported only with a loud warning (stderr and --json)', async () => {
    replaceWithConstantModel(path.join(first.runDir, 'checkpoint', 'head.ckpt'));
    const warned: string[] = [];
    const logger = { info() {}, warn: (message: string) => warned.push(message) };
    const resumed = await testContainer(config, logger).get(TrainPipeline).run(data, undefined, { resume: first.runId });
    assert.ok(resumed.metrics.val.accuracy <= 0.6, `the constant model scores ${resumed.metrics.val.accuracy}`);
    const loud = resumed.warnings.filter((w) => /^WARNING: .* below this run's own earlier best of 0\.\d{3} \(head epoch \d+/.test(w));
    assert.equal(loud.length, 1, resumed.warnings.join('\n'));
    assert.ok(warned.includes(loud[0]), 'also on stderr');
  });

  it('with --min-accuracy set it is refused and nothing is exported', async () => {
    const gated = testConfig({ ...flags, out: config.export.out, 'runs-dir': config.runs.dir, 'min-accuracy': '0.1' });
    const versions = listVersions(path.join(gated.export.out, 'best')).length;
    await assert.rejects(testContainer(gated).get(TrainPipeline).run(data, undefined, { resume: first.runId }), (error: unknown) => {
      assert.ok(error instanceof RuntimeFailure, String(error));
      assert.match(error.message, /below this run's own earlier best .*with export\.minAccuracy set \(0\.1\) nothing was exported/);
      return true;
    });
    assert.equal(listVersions(path.join(gated.export.out, 'best')).length, versions);
    assert.ok(fs.existsSync(first.exportDir));
  });
});
