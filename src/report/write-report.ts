import fs from 'node:fs';
import path from 'node:path';
import { DataError } from '../errors';
import type { RunDirectory } from '../runs/run-directory';
import { renderReport } from './render-report';
import { epochPoints, type ReportData } from './report-data';

/** report-data.json: what report.html shows, kept so the page can be rebuilt (finetune report --render). */
export function reportDataPath(run: RunDirectory): string {
  return path.join(run.dir, 'report-data.json');
}

function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, text);
  fs.renameSync(temporary, file);
}

/** Writes report-data.json and report.html into the run folder; returns the page's path. */
export async function writeReport(run: RunDirectory, data: ReportData): Promise<string> {
  writeAtomically(reportDataPath(run), `${JSON.stringify(data)}\n`);
  writeAtomically(run.reportPath, await renderReport(data));
  return run.reportPath;
}

/**
 * The run's report data: report-data.json when the run wrote one; otherwise (a run that ended
 * before writing it) what metrics.jsonl and config.json tell: the epochs, without data or plan.
 */
export function readReportData(run: RunDirectory): ReportData {
  if (fs.existsSync(reportDataPath(run))) {
    const recovery = `Delete it to rebuild the report from the run's metrics.jsonl: finetune report ${run.id} --render`;
    const data = readJsonFile<ReportData>(reportDataPath(run), recovery);
    if (!Array.isArray(data.epochs)) throw new DataError(`${reportDataPath(run)} has no "epochs" list. Expected the report data a run writes. ${recovery}`);
    // Epochs recorded after the data file was written (none in a normal run) are not lost.
    const recorded = epochPoints(run);
    return recorded.length > data.epochs.length ? { ...data, epochs: recorded } : data;
  }
  const config = readJsonFile<{ values?: { export?: { name?: string } } }>(run.configPath, 'The run cannot be reported without it.');
  return {
    formatVersion: 1,
    runId: run.id,
    name: config.values?.export?.name || run.id,
    status: 'failed',
    error: 'The run left no report data (it stopped early, or predates reports); only its recorded epochs are shown.',
    createdAt: fs.statSync(run.configPath).mtime.toISOString(),
    epochs: epochPoints(run),
  };
}

/** A JSON file of a run folder; one cut short (a crash, a full disk) or edited is a DataError saying how to recover. */
function readJsonFile<T>(file: string, recovery: string): T {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
    const value = JSON.parse(text);
    if (!value || typeof value !== 'object') throw new Error('not a JSON object');
    return value as T;
  } catch (error) {
    throw new DataError(
      `${file} cannot be read (${(error as Error).message}; received ${Buffer.byteLength(text)} bytes). ` +
        `Expected the complete JSON object a run writes: it was cut short or changed. ${recovery}`,
    );
  }
}

/** Renders report.html again from the run folder. */
export async function rebuildReport(run: RunDirectory): Promise<string> {
  writeAtomically(run.reportPath, await renderReport(readReportData(run)));
  return run.reportPath;
}
