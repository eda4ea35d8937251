import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DataError } from '../errors';

/** One training run's record: models/runs/<run-id>/ with its config, per-epoch metrics, checkpoints and report. */
export interface RunDirectory {
  id: string;
  dir: string;
  /** One JSON object per line, one line per epoch of every phase. */
  metricsPath: string;
  /** The resolved configuration the run started with. */
  configPath: string;
  reportPath: string;
  checkpointDir: string;
}

export interface EpochRecord {
  phase: string;
  epoch: number;
  [metric: string]: unknown;
}

const runIdPattern = /^[A-Za-z0-9._-]+$/;

function pathsOf(dir: string): RunDirectory {
  return {
    id: path.basename(dir),
    dir,
    metricsPath: path.join(dir, 'metrics.jsonl'),
    configPath: path.join(dir, 'config.json'),
    reportPath: path.join(dir, 'report.html'),
    checkpointDir: path.join(dir, 'checkpoint'),
  };
}

/** A new, empty run folder: `<name>-<yyyymmdd-hhmmss>-<4 hex>`, sortable by time and never reused. */
export function createRunDirectory(runsDir: string, name: string, now = new Date()): RunDirectory {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const safeName = name.replace(/[^A-Za-z0-9._-]+/g, '_') || 'run';
  fs.mkdirSync(runsDir, { recursive: true });
  for (;;) {
    const dir = path.join(runsDir, `${safeName}-${stamp}-${randomBytes(2).toString('hex')}`);
    try {
      fs.mkdirSync(dir);
      return pathsOf(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** An existing run, by id (looked up under runsDir) or by the path of its folder. */
export function openRunDirectory(runsDir: string, idOrPath: string): RunDirectory {
  const candidates = runIdPattern.test(idOrPath) ? [path.join(runsDir, idOrPath), idOrPath] : [idOrPath];
  const dir = candidates.find((candidate) => fs.existsSync(path.join(candidate, 'config.json')));
  if (!dir) {
    throw new DataError(`No run "${idOrPath}": expected a run id under ${runsDir}/ or the path of a run folder holding config.json. List runs with: ls ${runsDir}`);
  }
  return pathsOf(path.resolve(dir));
}

export function writeRunConfig(run: RunDirectory, config: unknown): void {
  fs.writeFileSync(run.configPath, `${JSON.stringify(config, null, 2)}\n`);
}

/** Appends one epoch; a line is written whole, so a killed run leaves every finished epoch readable. */
export function appendEpochRecord(run: RunDirectory, record: EpochRecord): void {
  fs.appendFileSync(run.metricsPath, `${JSON.stringify(record)}\n`);
}

export function readEpochRecords(run: RunDirectory): EpochRecord[] {
  if (!fs.existsSync(run.metricsPath)) return [];
  return fs
    .readFileSync(run.metricsPath, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as EpochRecord];
      } catch {
        return []; // a line cut short by a crash
      }
    });
}
