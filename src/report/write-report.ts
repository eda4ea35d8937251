import fs from 'node:fs';
import path from 'node:path';
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
    const data = JSON.parse(fs.readFileSync(reportDataPath(run), 'utf8')) as ReportData;
    // Epochs recorded after the data file was written (none in a normal run) are not lost.
    const recorded = epochPoints(run);
    return recorded.length > data.epochs.length ? { ...data, epochs: recorded } : data;
  }
  const config = JSON.parse(fs.readFileSync(run.configPath, 'utf8')) as { values?: { export?: { name?: string } } };
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

/** Renders report.html again from the run folder. */
export async function rebuildReport(run: RunDirectory): Promise<string> {
  writeAtomically(run.reportPath, await renderReport(readReportData(run)));
  return run.reportPath;
}
