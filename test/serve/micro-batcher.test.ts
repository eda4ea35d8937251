import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MicroBatcher } from '../../src/serve/micro-batcher';

/** A batcher that doubles numbers and records the batches it ran. */
function doubler(maxBatchSize: number, maxWaitMs: number, fail?: (items: number[]) => boolean) {
  const batches: number[][] = [];
  const batcher = new MicroBatcher<number, number>({
    maxBatchSize,
    maxWaitMs,
    run: async (items) => {
      batches.push(items);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (fail?.(items)) throw new Error('kernel failed');
      return items.map((x) => x * 2);
    },
  });
  return { batcher, batches };
}

describe('MicroBatcher', () => {
  it('gathers submissions that arrive within the wait into one batch', async () => {
    const { batcher, batches } = doubler(8, 30);
    const answers = await Promise.all([batcher.submit([1]), batcher.submit([2, 3]), batcher.submit([4])]);
    assert.deepEqual(answers, [[2], [4, 6], [8]]);
    assert.deepEqual(batches, [[1, 2, 3, 4]]);
  });

  it('runs a full batch at once, without waiting', async () => {
    const { batcher, batches } = doubler(2, 10_000);
    const started = Date.now();
    assert.deepEqual(await batcher.submit([5, 6]), [10, 12]);
    assert.ok(Date.now() - started < 1000);
    assert.deepEqual(batches, [[5, 6]]);
  });

  it('spreads a submission larger than the batch size over several batches, in order', async () => {
    const { batcher, batches } = doubler(2, 0);
    assert.deepEqual(await batcher.submit([1, 2, 3, 4, 5]), [2, 4, 6, 8, 10]);
    assert.deepEqual(batches, [[1, 2], [3, 4], [5]]);
  });

  it('with batch size 1, runs one item at a time', async () => {
    const { batcher, batches } = doubler(1, 0);
    await Promise.all([batcher.submit([1]), batcher.submit([2]), batcher.submit([3])]);
    assert.deepEqual(batches, [[1], [2], [3]]);
  });

  it('queues what arrives while a batch runs and runs it right after', async () => {
    const { batcher, batches } = doubler(4, 0);
    const first = batcher.submit([1]);
    while (batches.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    const rest = [batcher.submit([2]), batcher.submit([3])];
    await Promise.all([first, ...rest]);
    assert.deepEqual(batches, [[1], [2, 3]]);
  });

  it('fails only the submissions in a failing batch', async () => {
    const { batcher } = doubler(2, 0, (items) => items.includes(13));
    const results = await Promise.allSettled([batcher.submit([13]), batcher.submit([1]), batcher.submit([2])]);
    assert.equal(results[0].status, 'rejected');
    assert.equal(results[1].status, 'rejected', 'shares the failing batch');
    assert.deepEqual(results[2], { status: 'fulfilled', value: [4] });
    await batcher.idle();
    assert.equal(batcher.pending, 0);
  });

  it('idle() resolves once everything queued has run', async () => {
    const { batcher } = doubler(1, 0);
    let done = 0;
    for (let i = 0; i < 3; i++) void batcher.submit([i]).then(() => (done += 1));
    await batcher.idle();
    assert.equal(done, 3);
    await batcher.idle();
  });

  it('runs up to `concurrency` batches at once, and never more', async () => {
    let running = 0;
    let most = 0;
    const batches: number[][] = [];
    const batcher = new MicroBatcher<number, number>({
      maxBatchSize: 2,
      maxWaitMs: 10_000,
      concurrency: 2,
      run: async (items) => {
        batches.push(items);
        running += 1;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 20));
        running -= 1;
        return items.map((x) => -x);
      },
    });
    const answers = await Promise.all([batcher.submit([1, 2]), batcher.submit([3, 4]), batcher.submit([5, 6]), batcher.submit([7, 8])]);
    assert.deepEqual(answers, [[-1, -2], [-3, -4], [-5, -6], [-7, -8]]);
    assert.equal(most, 2, 'two batches ran side by side');
    assert.equal(batches.length, 4);
    await batcher.idle();
    assert.equal(batcher.pending, 0);
  });
});
