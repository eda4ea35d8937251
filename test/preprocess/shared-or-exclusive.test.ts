import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SharedOrExclusive } from '../../src/preprocess/shared-or-exclusive';

/** Records which tasks run at once: each task notes how many others were running when it started. */
function recorder() {
  let running = 0;
  const log: string[] = [];
  const task = (name: string, ms: number) => async () => {
    log.push(`${name} starts beside ${running}`);
    running++;
    await sleep(ms);
    running--;
    log.push(`${name} ends`);
    return name;
  };
  return { log, task };
}

describe('SharedOrExclusive', () => {
  test('shared tasks run side by side', async () => {
    const gate = new SharedOrExclusive();
    const { log, task } = recorder();
    await Promise.all([gate.shared(task('a', 20)), gate.shared(task('b', 20))]);
    assert.deepEqual(log.slice(0, 2), ['a starts beside 0', 'b starts beside 1']);
  });

  test('an exclusive task waits for the shared ones in flight and holds back those asked for after it', async () => {
    const gate = new SharedOrExclusive();
    const { log, task } = recorder();
    const first = [gate.shared(task('a', 30)), gate.shared(task('b', 10))];
    await sleep(1);
    const alone = gate.exclusive(task('x', 20));
    const later = gate.shared(task('c', 5));
    assert.deepEqual(await Promise.all([...first, alone, later]), ['a', 'b', 'x', 'c']);
    assert.deepEqual(log, ['a starts beside 0', 'b starts beside 1', 'b ends', 'a ends', 'x starts beside 0', 'x ends', 'c starts beside 0', 'c ends']);
  });

  test('exclusive tasks run one at a time in order, and a failing one does not block the rest', async () => {
    const gate = new SharedOrExclusive();
    const { log, task } = recorder();
    const failing = gate.exclusive(async () => {
      await sleep(5);
      throw new Error('boom');
    });
    const results = [gate.exclusive(task('x', 10)), gate.exclusive(task('y', 1)), gate.shared(task('s', 1))];
    await assert.rejects(failing, /boom/);
    assert.deepEqual(await Promise.all(results), ['x', 'y', 's']);
    assert.deepEqual(log, ['x starts beside 0', 'x ends', 'y starts beside 0', 'y ends', 's starts beside 0', 's ends']);
  });
});
