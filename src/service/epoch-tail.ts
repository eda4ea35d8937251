import fs from 'node:fs';
import path from 'node:path';

const pollMs = 300;

/**
 * Follows the metrics.jsonl of the run under `runsDir` (the job's own runs folder holds one run):
 * every whole line appended after `start` becomes one call of `onRecord`. Lines already there when
 * following starts (a resumed run's earlier epochs) were reported by the worker that wrote them.
 */
export function tailEpochs(runsDir: string, onRecord: (record: Record<string, unknown>) => void): { stop(): void } {
  let file: string | undefined;
  let offset = 0;
  let rest = '';
  const existing = findMetrics(runsDir);
  if (existing) {
    file = existing;
    offset = fs.statSync(existing).size;
  }
  const poll = () => {
    file ??= findMetrics(runsDir);
    if (!file) return;
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      return;
    }
    if (size <= offset) return;
    const buffer = Buffer.alloc(size - offset);
    const fd = fs.openSync(file, 'r');
    try {
      fs.readSync(fd, buffer, 0, buffer.length, offset);
    } finally {
      fs.closeSync(fd);
    }
    offset = size;
    const lines = (rest + buffer.toString('utf8')).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        onRecord(JSON.parse(line));
      } catch {
        // a line cut short by a crash: the resumed run writes that epoch again
      }
    }
  };
  const timer = setInterval(poll, pollMs);
  return {
    stop: () => {
      clearInterval(timer);
      poll();
    },
  };
}

function findMetrics(runsDir: string): string | undefined {
  try {
    for (const entry of fs.readdirSync(runsDir)) {
      const candidate = path.join(runsDir, entry, 'metrics.jsonl');
      if (fs.existsSync(candidate)) return candidate;
    }
  } catch {
    return undefined;
  }
  return undefined;
}
