import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildHead } from '../../src/train/head';
import { ExponentialDecay } from '../../src/train/learning-rate-schedule';
import type { EpochLog } from '../../src/train/fit';
import type { StepOutcome } from '../../src/train/train-step';
import type { TrainingCallback, TrainingLoop } from '../../src/train/training-callback';
import { trainHead } from '../../src/train/train-head';
import { clusterSplit } from '../helpers/labelled-clusters';
import { temporaryDir } from '../helpers/sample-data';

let data: ReturnType<typeof clusterSplit>;

before(async () => {
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  data = clusterSplit({ n: 60, trainCount: 40, d: 6, K: 2, separation: 2, seed: 4 });
});

after(() => data.dispose());

/** Records every event it sees, and counts steps as its checkpointed state. */
class Recorder implements TrainingCallback {
  readonly stateKey = 'recorder';
  events: string[] = [];
  steps = 0;
  onTrainBegin() {
    this.events.push('train-begin');
  }
  onEpochBegin(epoch: number) {
    this.events.push(`epoch-begin ${epoch}`);
  }
  onBatchEnd(epoch: number, batch: number, outcome: StepOutcome) {
    this.steps += 1;
    assert.ok(Number.isFinite(outcome.loss) && outcome.examples > 0);
    this.events.push(`batch-end ${epoch}.${batch}`);
  }
  onEpochEnd(log: EpochLog, loop: TrainingLoop) {
    this.events.push(`epoch-end ${log.epoch}`);
    if (log.epoch === 1 && this.stopAtEpoch1) loop.stopTraining = true;
  }
  onTrainEnd() {
    this.events.push('train-end');
  }
  getState() {
    return { steps: this.steps };
  }
  setState(state: { steps: number }) {
    this.steps = state.steps;
  }
  constructor(private readonly stopAtEpoch1 = false) {}
}

const options = { batchSize: 20, schedule: new ExponentialDecay(0.01, 1), patience: 100, seed: 2 };

describe('training callbacks', () => {
  test('fit calls a callback at fixed events, in order, and a callback can stop training', async () => {
    const head = buildHead({ numFeatures: 6, numClasses: 2, seed: 1 });
    const recorder = new Recorder(true);
    try {
      const result = await trainHead(head, data.train, data.val, 2, { ...options, epochs: 5, callbacks: [recorder] });
      assert.deepEqual(recorder.events, ['train-begin', 'epoch-begin 0', 'batch-end 0.1', 'batch-end 0.2', 'epoch-end 0', 'epoch-begin 1', 'batch-end 1.1', 'batch-end 1.2', 'epoch-end 1', 'train-end']);
      assert.equal(result.history.length, 2);
    } finally {
      head.dispose();
    }
  });

  test("a checkpoint is built from the callback list: a custom callback's state comes back on resume", async () => {
    const file = path.join(temporaryDir('callback-ckpt'), 'head.ckpt');
    const head = buildHead({ numFeatures: 6, numClasses: 2, seed: 1 });
    try {
      const first = new Recorder();
      await trainHead(head, data.train, data.val, 2, { ...options, epochs: 3, checkpoint: { file }, callbacks: [first] });
      assert.equal(first.steps, 6);
      const resumed = new Recorder();
      await trainHead(head, data.train, data.val, 2, { ...options, epochs: 3, checkpoint: { file, resume: true }, callbacks: [resumed] });
      assert.equal(resumed.steps, 6, 'the finished run was not trained again, and its state was restored');
      assert.deepEqual(resumed.events, ['train-begin', 'train-end']);
    } finally {
      head.dispose();
    }
  });
});
