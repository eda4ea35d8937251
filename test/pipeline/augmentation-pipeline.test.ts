import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TrainPipeline } from '../../src/pipeline/train-pipeline';
import { testConfig, testContainer } from '../helpers/pipeline';
import { copySample } from '../helpers/sample-data';

describe('augmented views in training', () => {
  it('adds views of every training image, computed once and read from the cache the next time', async () => {
    const data = copySample({ classes: 3, perClass: 10 });
    const config = testConfig({ 'augment-views': '2', 'image-size': '96', epochs: '3', patience: '3', 'extract-workers': '1' });
    const first = await testContainer(config).get(TrainPipeline).run(data);
    const images = first.plan.datasetSize.total;
    const held = 30 - images;
    assert.equal(first.features.computed, images * 3 + held, 'each training image in 3 versions, validation images once');
    assert.equal(first.features.trainingExamples, images * 3);

    const again = await testContainer(config).get(TrainPipeline).run(data);
    assert.equal(again.features.computed, 0);
    assert.equal(again.features.fromCache, images * 3 + held);

    const fewer = await testContainer({ ...config, augment: { ...config.augment, views: 1 } }).get(TrainPipeline).run(data);
    assert.equal(fewer.features.computed, 0, 'view 1 is the same view whatever the number of views');
    assert.equal(fewer.features.trainingExamples, images * 2);
    const other = await testContainer({ ...config, augment: { ...config.augment, views: 1, flip: false } }).get(TrainPipeline).run(data);
    assert.equal(other.features.computed, images, 'other augmentation settings are other views');
  });
});
