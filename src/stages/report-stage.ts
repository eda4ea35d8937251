import { inject, injectable } from 'inversify';
import { Logger } from '../logger';
import type { JobStart, Stage } from '../pipeline/stage';
import { preloadChartLibraries } from '../report/render-charts';
import { buildReportData } from '../report/report-data';
import { writeReport } from '../report/write-report';
import type { RunDirectory } from '../runs/run-directory';
import type { BaseOutput } from './base-stage';
import type { CrossValidatedGateOutput } from './cross-validated-gate-stage';
import type { ExportOutput } from './export-stage';
import type { FitOutput } from './fit-stage';
import type { GateOutput } from './gate-stage';
import type { PlanOutput } from './plan-stage';
import type { RunFolderOutput } from './run-folder-stage';
import type { ScanOutput } from './scan-stage';

export type ReportInput = JobStart &
  RunFolderOutput &
  Pick<BaseOutput, 'backend'> &
  Pick<ScanOutput, 'dataset'> &
  Pick<PlanOutput, 'plan'> &
  FitOutput &
  Pick<GateOutput, 'metrics' | 'validationProbabilities'> &
  Partial<Pick<CrossValidatedGateOutput, 'validationRecords'>> &
  Pick<ExportOutput, 'exported'>;

export interface ReportOutput {
  /** The run's report.html (absent only when it could not be written; a warning says why). */
  reportPath?: string;
}

/** report: report.html and report-data.json in the run folder, for a finished run and (onFailure) a failed one. */
@injectable()
export class ReportStage implements Stage<ReportInput, ReportOutput> {
  readonly name = 'report';
  readonly timing = 'report_s';

  constructor(@inject(Logger) private readonly logger: Logger) {}

  readonly run = async (input: ReportInput): Promise<ReportOutput> => {
    const { run, name, dataset, plan, backend, metrics, trained, validationProbabilities, validationRecords, timings } = input;
    const reportPath = await this.write(run, {
      name,
      status: 'succeeded',
      dataset,
      plan,
      backend,
      exportDir: input.exported.dir,
      metrics,
      phases: trained.phases,
      validationProbabilities,
      validationRecords,
      timings,
    });
    return reportPath ? { reportPath } : {};
  };

  /** Once the data and the plan are known, a failed run has a report too. */
  readonly onFailure = async ({ run, name, dataset, plan, backend, timings }: Partial<ReportInput>, error: Error): Promise<void> => {
    if (!run || !name || !dataset || !plan || !backend) return;
    await this.write(run, { name, status: 'failed', error: error.message, dataset, plan, backend, timings });
  };

  /** A report that cannot be written only warns, it never fails the run. */
  private async write(run: RunDirectory, inputs: Omit<Parameters<typeof buildReportData>[0], 'run'>): Promise<string | undefined> {
    try {
      const reportPath = await writeReport(run, await buildReportData({ run, ...inputs }));
      this.logger.info(`report ${reportPath}`);
      return reportPath;
    } catch (error) {
      this.logger.warn(`could not write the run's report in ${run.dir}: ${(error as Error).message}`);
      return undefined;
    }
  }
}

/**
 * preload-report: the report's chart libraries start loading here, so that their 0.3 s of the main
 * thread falls where it waits (on small data, for the readouts' cross-validation on worker threads).
 */
export const preloadReportStage: Stage<unknown, Record<string, never>> = {
  name: 'preload-report',
  run: async () => {
    preloadChartLibraries();
    return {};
  },
};
