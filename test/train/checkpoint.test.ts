import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DataError, RuntimeFailure, TrainingInterrupted } from '../../src/errors';
import { readCheckpoint, writeCheckpoint } from '../../src/train/checkpoint';
import type { FitOptions, FitResult } from '../../src/train/fit';
import { buildHead } from '../../src/train/head';
import { ExponentialDecay } from '../../src/train/learning-rate-schedule';
import { trainHead } from '../../src/train/train-head';
import { clusterSplit, weightsOf } from '../helpers/labelled-clusters';
import { temporaryDir } from '../helpers/sample-data';

let data: ReturnType<typeof clusterSplit>;

before(async () => {
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  data = clusterSplit({ n: 120, trainCount: 80, d: 8, K: 3, separation: 1, seed: 12 });
});

after(() => data.dispose());

describe('checkpoint files', () => {
  test('round-trip state and tensors (float32 and int32) exactly, and leave no temporary file', () => {
    const dir = temporaryDir('checkpoint');
    const file = path.join(dir, 'head.ckpt');
    const tensors = { weights: [tf.tensor2d([[1.5, -2.25]]), tf.tensor1d([Math.PI])], optimizer_0: [tf.scalar(7, 'int32')], best: [] };
    writeCheckpoint(file, { epoch: 3, note: 'x' }, tensors);
    assert.deepEqual(fs.readdirSync(dir), ['head.ckpt']);
    const read = readCheckpoint<{ epoch: number }>(file)!;
    assert.deepEqual(read.state, { epoch: 3, note: 'x' });
    assert.deepEqual(read.tensors.weights.map((t) => [t.shape, Array.from(t.dataSync())]), [
      [[1, 2], [1.5, -2.25]],
      [[1], [Math.fround(Math.PI)]],
    ]);
    assert.equal(read.tensors.optimizer_0[0].dtype, 'int32');
    assert.equal(read.tensors.optimizer_0[0].dataSync()[0], 7);
    assert.deepEqual(read.tensors.best, []);
    tf.dispose([...Object.values(tensors).flat(), ...Object.values(read.tensors).flat()]);
    assert.equal(readCheckpoint(path.join(dir, 'none.ckpt')), undefined);
  });

  test('a truncated checkpoint fails its checksum: a DataError that says how to go on', () => {
    const file = path.join(temporaryDir('checkpoint'), 'head.ckpt');
    const tensor = tf.tensor1d([1, 2, 3]);
    writeCheckpoint(file, {}, { weights: [tensor] });
    tensor.dispose();
    fs.truncateSync(file, fs.statSync(file).size - 4);
    assert.throws(
      () => readCheckpoint(file),
      (error: Error) => error instanceof DataError && /fails its checksum .*not resumed\. Start a new run .*or delete .*head\.ckpt to train this phase again/.test(error.message),
    );
  });

  test('weights scaled by -50 (header intact) are refused, not read', () => {
    const file = path.join(temporaryDir('checkpoint'), 'head.ckpt');
    const tensor = tf.tensor1d([0.5, -0.25, 2]);
    writeCheckpoint(file, { epoch: 1 }, { weights: [tensor] });
    tensor.dispose();
    const bytes = fs.readFileSync(file);
    const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + bytes.length - 12, bytes.byteOffset + bytes.length));
    Buffer.from(data.map((v) => v * -50).buffer).copy(bytes, bytes.length - 12);
    fs.writeFileSync(file, bytes);
    assert.throws(() => readCheckpoint(file), (error: Error) => error instanceof DataError && error.exitCode === 2 && /fails its checksum/.test(error.message));
  });

  test('a checkpoint without a checksum (the earlier format) is refused as unverifiable', () => {
    const file = path.join(temporaryDir('checkpoint'), 'head.ckpt');
    const header = Buffer.from(JSON.stringify({ format: 'finetune-checkpoint-1', state: {}, tensors: {} }));
    const size = Buffer.alloc(4);
    size.writeUInt32LE(header.length);
    fs.writeFileSync(file, Buffer.concat([size, header]));
    assert.throws(() => readCheckpoint(file), (error: Error) => error instanceof DataError && /has no checksum .*expected a finetune-checkpoint-2 file/.test(error.message));
  });
});

describe('resuming training from a checkpoint', () => {
  const epochs = 9;
  const options = (overrides: Partial<FitOptions>): FitOptions => ({
    epochs,
    batchSize: 16,
    schedule: new ExponentialDecay(0.03, 0.9),
    patience: 5,
    seed: 5,
    plateau: { patience: 2, factor: 0.5 },
    labelSmoothing: 0.05,
    l2: 0.001,
    clipNorm: 5,
    ...overrides,
  });

  async function uninterrupted(overrides: Partial<FitOptions>) {
    const head = buildHead({ numFeatures: 8, numClasses: 3, hiddenUnits: 8, dropout: 0.3, seed: 1 });
    try {
      const result = await trainHead(head, data.train, data.val, 3, options({ ...overrides, checkpoint: { file: path.join(temporaryDir('ckpt'), 'head.ckpt') } }));
      return { result, weights: weightsOf(head) };
    } finally {
      head.dispose();
    }
  }

  /** Stops after `stopAfter` epochs (as Ctrl-C would), then continues in a fresh head built with another seed. */
  async function interruptedThenResumed(overrides: Partial<FitOptions>, stopAfter: number) {
    const file = path.join(temporaryDir('ckpt'), 'head.ckpt');
    const first = buildHead({ numFeatures: 8, numClasses: 3, hiddenUnits: 8, dropout: 0.3, seed: 1 });
    const interrupt = new AbortController();
    try {
      await assert.rejects(
        trainHead(first, data.train, data.val, 3, {
          ...options({ ...overrides, checkpoint: { file } }),
          signal: interrupt.signal,
          onEpoch: (log) => {
            if (log.epoch === stopAfter - 1) interrupt.abort();
          },
        }),
        (error: Error) => error instanceof TrainingInterrupted && new RegExp(`during epoch ${stopAfter + 1}; the checkpoint after epoch ${stopAfter} is in`).test(error.message),
      );
    } finally {
      first.dispose();
    }
    const second = buildHead({ numFeatures: 8, numClasses: 3, hiddenUnits: 8, dropout: 0.3, seed: 99 });
    try {
      const result = await trainHead(second, data.train, data.val, 3, options({ ...overrides, checkpoint: { file, resume: true } }));
      return { result, weights: weightsOf(second), file };
    } finally {
      second.dispose();
    }
  }

  function assertSameRun(a: { result: FitResult; weights: number[][] }, b: { result: FitResult; weights: number[][] }) {
    assert.equal(b.result.history.length, a.result.history.length);
    b.result.history.forEach((log, i) => {
      const expected = a.result.history[i];
      for (const key of ['loss', 'valLoss', 'learningRate', 'accuracy'] as const) {
        assert.equal(log[key], expected[key], `epoch ${i} ${key}`);
      }
    });
    assert.equal(b.result.bestEpoch, a.result.bestEpoch);
    assert.deepEqual(b.result.rateReductions, a.result.rateReductions);
    assert.deepEqual(b.result.warnings.map((w) => [w.epoch, w.kind]), a.result.warnings.map((w) => [w.epoch, w.kind]));
    assert.deepEqual(b.weights, a.weights, 'bit-identical final weights');
  }

  for (const optimizer of [{ name: 'adam' as const }, { name: 'sgd' as const, momentum: 0.9 }, { name: 'rmsprop' as const }]) {
    test(`${optimizer.name}: stopping after 4 epochs and resuming ends where the uninterrupted run ends`, async () => {
      const whole = await uninterrupted({ optimizer });
      assert.ok(whole.result.rateReductions.length > 0 || whole.result.stoppedEarly || whole.result.history.length === epochs);
      const resumed = await interruptedThenResumed({ optimizer }, 4);
      assertSameRun(whole, resumed);
    });
  }

  test('a finished phase is not trained again: resuming returns its result and its best weights', async () => {
    const whole = await uninterrupted({});
    const { file } = await interruptedThenResumed({}, 2);
    const head = buildHead({ numFeatures: 8, numClasses: 3, hiddenUnits: 8, dropout: 0.3, seed: 7 });
    const epochsRun: number[] = [];
    try {
      const again = await trainHead(head, data.train, data.val, 3, { ...options({ checkpoint: { file, resume: true } }), onEpoch: (log) => epochsRun.push(log.epoch) });
      assert.deepEqual(epochsRun, [], 'no epoch ran');
      assertSameRun(whole, { result: again, weights: weightsOf(head) });
    } finally {
      head.dispose();
    }
  });

  test('a checkpoint from another setup is refused', async () => {
    const { file } = await interruptedThenResumed({}, 2);
    const head = buildHead({ numFeatures: 8, numClasses: 3, hiddenUnits: 8, dropout: 0.3, seed: 7 });
    try {
      await assert.rejects(
        trainHead(head, data.train, data.val, 3, options({ batchSize: 8, checkpoint: { file, resume: true } })),
        (error: Error) => error instanceof RuntimeFailure && /was written by a different training setup/.test(error.message),
      );
    } finally {
      head.dispose();
    }
  });

  test('a tampered checkpoint is refused on --resume: training does not continue from it', async () => {
    const { file } = await interruptedThenResumed({}, 2);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 1] ^= 0x40;
    fs.writeFileSync(file, bytes);
    const head = buildHead({ numFeatures: 8, numClasses: 3, hiddenUnits: 8, dropout: 0.3, seed: 7 });
    const epochsRun: number[] = [];
    try {
      await assert.rejects(
        trainHead(head, data.train, data.val, 3, { ...options({ checkpoint: { file, resume: true } }), onEpoch: (log) => epochsRun.push(log.epoch) }),
        (error: Error) => error instanceof DataError && /fails its checksum/.test(error.message),
      );
      assert.deepEqual(epochsRun, []);
    } finally {
      head.dispose();
    }
  });
});
