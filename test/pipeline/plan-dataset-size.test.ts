import 'reflect-metadata';
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { RunPreparation } from '../../src/pipeline/prepare-run';
import type { Plan } from '../../src/policy/plan';
import { noisePng, writeTree } from '../helpers/images';
import { testConfig, testContainer } from '../helpers/pipeline';
import { temporaryDir } from '../helpers/sample-data';

/** A folder of `perClass` distinct small PNGs in each of `classes` classes. */
async function syntheticFolder(classes: number, perClass: number): Promise<string> {
  const root = temporaryDir('sized');
  const files: Record<string, Buffer> = {};
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < perClass; i++) files[path.join(`class_${c}`, `${i}.png`)] = await noisePng(1 + c * perClass + i, 12);
  }
  writeTree(root, files);
  return root;
}

/** `plan` end to end (auto policy, real similarity probe on a bounded sample), at a small input size. */
async function planFor(data: string): Promise<Plan> {
  const config = testConfig({ policy: 'auto', 'image-size': '96', 'probe-images': '60' });
  const prepared = await testContainer(config).get(RunPreparation).prepare(data);
  prepared.base.dispose();
  return prepared.plan;
}

describe('plan calls datasets large or small by their counts (default thresholds: 2,000 images, 100 in the smallest class)', () => {
  let large: Plan;
  let small: Plan;
  before(async () => {
    large = await planFor(await syntheticFolder(10, 500));
    small = await planFor(await syntheticFolder(5, 50));
  });

  it('calls a 5,000-image set large and fine-tunes', () => {
    assert.equal(large.datasetSize.category, 'large');
    assert.ok(large.datasetSize.total >= 3_500, `training images after the validation split: ${large.datasetSize.total}`);
    assert.ok(large.datasetSize.smallestClass >= 100);
    assert.ok(['top', 'deep'].includes(large.policy), large.policy);
    assert.match(large.quadrant, /^large/);
  });

  it('calls a 250-image set small and keeps the base frozen', () => {
    assert.equal(small.datasetSize.category, 'small');
    assert.ok(small.datasetSize.total <= 250);
    assert.ok(['head', 'intermediate'].includes(small.policy), small.policy);
    assert.equal(small.fineTune, undefined);
    assert.match(small.quadrant, /^small/);
    assert.ok(small.reasons.some((reason) => /small/.test(reason)), small.reasons.join(' '));
  });
});
