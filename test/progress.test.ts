import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { stderrOutput } from '../src/cli/stderr-output';
import { LogLineProgress, rateAndEta } from '../src/progress';
import { TerminalProgress } from '../src/terminal-progress';

function recordingLogger() {
  const lines: string[] = [];
  return { lines, logger: { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(`warning: ${m}`) } };
}

/** A writable stream that says it is a terminal, recording what is written to it. */
function fakeTerminal(isTTY: boolean) {
  const stream = new PassThrough() as PassThrough & Partial<NodeJS.WriteStream>;
  let written = '';
  stream.on('data', (chunk: Buffer) => (written += chunk.toString()));
  Object.assign(stream, {
    isTTY,
    columns: 120,
    cursorTo: (x: number) => stream.write(`\x1b[${x + 1}G`),
    clearLine: () => stream.write('\x1b[2K'),
    moveCursor: () => true,
  });
  return { stream: stream as unknown as NodeJS.WriteStream, written: () => written };
}

describe('rateAndEta', () => {
  it('gives units per second and the seconds left, nothing before the first unit', () => {
    assert.deepEqual(rateAndEta(0, 10, 5), {});
    assert.deepEqual(rateAndEta(4, 10, 2), { rate: 2, etaSeconds: 3 });
    assert.deepEqual(rateAndEta(10, 10, 5), { rate: 2, etaSeconds: 0 });
  });
});

describe('LogLineProgress', () => {
  it('writes a line with counts, rate and ETA at most once per interval, and a closing line', () => {
    let now = 0;
    const { lines, logger } = recordingLogger();
    const task = new LogLineProgress(logger, 10, () => now).start('features', 100, 'images');
    now = 5_000;
    task.update(10);
    assert.deepEqual(lines, [], 'nothing before the interval');
    now = 10_000;
    task.update(20, 'batch 2');
    now = 12_000;
    task.update(24);
    assert.deepEqual(lines, ['  features: 20/100 images, 2.0 images/s, ETA 40 s, batch 2']);
    now = 50_000;
    task.update(100);
    task.stop();
    task.stop();
    assert.deepEqual(lines.slice(1), ['  features: 100/100 images in 50 s (2.0 images/s), batch 2']);
  });
});

describe('TerminalProgress', () => {
  it('draws a bar with counts and rate on a terminal and prints log lines above it', async () => {
    const terminal = fakeTerminal(true);
    const progress = new TerminalProgress(terminal.stream);
    const task = progress.start('features', 10, 'images');
    await new Promise((resolve) => setTimeout(resolve, 20));
    task.update(3, 'warming up');
    progress.print('a log line\n');
    task.update(10);
    task.stop();
    const out = terminal.written();
    assert.match(out, /features [=-]+ 3\/10 images \| [\d.]+ images\/s \| ETA [\d.]+ s \| warming up/);
    assert.match(out, /features =+ 10\/10 images/);
    assert.match(out, /\x1b\[2Ka log line\n/, 'the bar line is cleared before the log line');
  });
});

describe('stderrOutput (chosen by the CLI)', () => {
  it('uses plain log lines, no bar, with --json even on a terminal', () => {
    const terminal = fakeTerminal(true);
    const { logger, progress } = stderrOutput({ json: true, stream: terminal.stream });
    assert.ok(progress instanceof LogLineProgress);
    const task = progress.start('checking images', 2, 'files');
    task.update(2);
    task.stop();
    logger.info('done');
    assert.match(terminal.written(), /^ {2}checking images: 2\/2 files in [\d.]+ s.*\ndone\n$/);
    assert.ok(!terminal.written().includes('\x1b'), 'no terminal control sequence');
  });

  it('uses plain log lines when stderr is not a terminal', () => {
    const pipe = fakeTerminal(false);
    assert.ok(stderrOutput({ stream: pipe.stream }).progress instanceof LogLineProgress);
  });

  it('draws a bar on a terminal without --json', () => {
    assert.ok(stderrOutput({ stream: fakeTerminal(true).stream }).progress instanceof TerminalProgress);
  });
});
