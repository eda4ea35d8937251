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
  /** What else a resume needs (the data folder): run.json. */
  infoPath: string;
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
    infoPath: path.join(dir, 'run.json'),
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

/** What `finetune train --resume` needs besides the configuration. */
export interface RunInfo {
  /** Absolute path of the data folder the run trains on. */
  dataDir: string;
  startedAt: string;
}

export function writeRunInfo(run: RunDirectory, info: RunInfo): void {
  fs.writeFileSync(run.infoPath, `${JSON.stringify(info, null, 2)}\n`);
}

export function readRunInfo(run: RunDirectory): RunInfo {
  try {
    return JSON.parse(fs.readFileSync(run.infoPath, 'utf8')) as RunInfo;
  } catch (error) {
    throw new DataError(`Run ${run.id} has no readable ${run.infoPath} (${(error as Error).message}): it cannot be resumed. Start a new run with finetune train --data DIR.`);
  }
}

/** The configuration values a run started with (config.json holds either the values or {env, values, origins}). */
export function readRunConfig(run: RunDirectory): { env?: string; values: Record<string, unknown> } {
  let recorded: { env?: string; values?: Record<string, unknown> } & Record<string, unknown>;
  try {
    recorded = JSON.parse(fs.readFileSync(run.configPath, 'utf8'));
  } catch (error) {
    throw new DataError(`Run ${run.id} has no readable ${run.configPath} (${(error as Error).message}): it cannot be resumed.`);
  }
  return recorded.values && typeof recorded.values === 'object' ? { env: recorded.env, values: recorded.values } : { values: recorded };
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
