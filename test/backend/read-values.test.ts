import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readValues } from '../../src/backend/read-values';

describe('readValues', () => {
  it('reads the values of a tensor computed in a scope, leaving no tensor behind', () => {
    const before = tf.memory().numTensors;
    const values = readValues(() => tf.add(tf.range(0, 4), tf.scalar(1)));
    assert.deepEqual(Array.from(values), [1, 2, 3, 4]);
    assert.equal(tf.memory().numTensors, before);
  });
});
