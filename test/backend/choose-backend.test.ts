import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chooseBackend } from '../../src/backend/choose-backend';
import { ConfigError } from '../../src/errors';

/**
 * chooseBackend keeps the current choice for the process: the tests run in this order, each
 * starting from the state the previous one left (node --test gives every file its own process).
 */
describe('chooseBackend on this machine (no tfjs-node, no tfjs-node-gpu)', () => {
  test('the native packages are indeed absent here', () => {
    for (const name of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) {
      assert.throws(() => require.resolve(name), { code: 'MODULE_NOT_FOUND' }, `${name} is installed: these tests assume it is not`);
    }
  });

  test('auto picks wasm and says why the native backends were skipped', async () => {
    const choice = await chooseBackend('auto');
    assert.equal(choice.name, 'wasm');
    assert.equal(choice.tfjsBackend, 'wasm');
    assert.equal(tf.getBackend(), 'wasm', 'the choice is activated');
    assert.match(choice.reason, /@tensorflow\/tfjs-node-gpu is not installed/);
    assert.match(choice.reason, /@tensorflow\/tfjs-node is not installed/);
    // And it computes.
    const sum = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).arraySync());
    assert.deepEqual(sum, [4, 6]);
  });

  test('asking again returns the current choice without trying again', async () => {
    const first = await chooseBackend('auto');
    const again = await chooseBackend('auto');
    assert.equal(again, first);
    assert.equal(await chooseBackend('wasm'), first, 'asking for the current backend by name is the same choice');
  });

  test("forcing 'cpu' switches to cpu, and says it was forced", async () => {
    const choice = await chooseBackend('cpu');
    assert.equal(choice.name, 'cpu');
    assert.equal(choice.tfjsBackend, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    assert.match(choice.reason, /forced/);
  });

  test("forcing 'tensorflow' throws, naming @tensorflow/tfjs-node, and leaves the current backend", async () => {
    await assert.rejects(chooseBackend('tensorflow'), (error: Error) => {
      assert.ok(error instanceof ConfigError, 'a forced backend that is missing is a configuration error (exit 2)');
      assert.match(error.message, /backend=tensorflow, which is not available/);
      assert.match(error.message, /@tensorflow\/tfjs-node\b(?!-gpu)/);
      return true;
    });
    assert.equal(tf.getBackend(), 'cpu');
  });

  test("forcing 'tensorflow-gpu' throws, naming @tensorflow/tfjs-node-gpu", async () => {
    await assert.rejects(chooseBackend('tensorflow-gpu'), /@tensorflow\/tfjs-node-gpu/);
  });

  test("forcing 'wasm' after cpu switches back to wasm", async () => {
    const choice = await chooseBackend('wasm');
    assert.equal(choice.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
  });
});
