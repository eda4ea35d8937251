import { inject, injectable } from 'inversify';
import type { ExportMetadata, ExportQuantization } from '../export/export-metadata';
import { Logger } from '../logger';
import type { Plan } from '../policy/plan';
import { BaseStage } from '../stages/base-stage';
import { CrossValidatedGateStage } from '../stages/cross-validated-gate-stage';
import { ExportStage } from '../stages/export-stage';
import { ExtractStage } from '../stages/extract-stage';
import { BaselineStage } from '../stages/baseline-stage';
import { RefitBaselineStage } from '../stages/refit-baseline-stage';
import { FineTuneGateStage } from '../stages/fine-tune-gate-stage';
import { FitStage } from '../stages/fit-stage';
import { GateStage } from '../stages/gate-stage';
import { MeasureStage } from '../stages/measure-stage';
import { PlanStage } from '../stages/plan-stage';
import { preloadReportStage, ReportStage } from '../stages/report-stage';
import { RunFolderStage, type RunFolderInput } from '../stages/run-folder-stage';
import { ScanStage } from '../stages/scan-stage';
import { SelectFeaturesStage, unlessFeaturesSelected } from '../stages/select-features-stage';
import { SelectHeadStage, unlessHeadSelected } from '../stages/select-head-stage';
import { SelectionPlanStage } from '../stages/selection-plan-stage';
import { runStages, StageList, totalTime, type JobStart } from './stage';
import type { TrainingPhase } from './train-classifier';

export interface TrainResult {
  exportDir: string;
  runId: string;
  /** models/runs/<run-id>/: the run's config and metrics.jsonl. */
  runDir: string;
  /** The run's report.html (absent only when it could not be written; a warning says why). */
  reportPath?: string;
  version: number;
  backend: { name: string; reason: string };
  plan: Plan;
  labels: string[];
  metrics: ExportMetadata['metrics'];
  /** Present when export.quantize is float16 or uint8: weight sizes and the validation accuracy change. */
  quantization?: ExportQuantization;
  skipped: { path: string; reason: string }[];
  /** What did not stop the run but should be known (e.g. a class left out by data.skipEmptyClasses, a model below the run's earlier best). */
  warnings: string[];
  /** Frozen-part outputs computed in this run, those read from the cache, and the examples training saw per epoch (images and their augmented views). */
  features: { computed: number; fromCache: number; trainingExamples: number };
  timings: Record<string, number>;
  /** What training warned about and the non-finite steps it recovered from, per phase; resumed: continued from checkpoints. */
  training: {
    resumed: boolean;
    warnings: (TrainingPhase['warnings'][number] & { phase: TrainingPhase['name'] })[];
    recoveries: (TrainingPhase['recoveries'][number] & { phase: TrainingPhase['name'] })[];
  };
}

export interface TrainRunOptions {
  /** Continue this run (id under runs.dir, or its folder) from its checkpoints instead of starting a new one. */
  resume?: string;
  /** Aborting (Ctrl-C) stops training at the next step; the run can then be resumed. */
  signal?: AbortSignal;
}

/** The `train` job as its stages, in order: prepare (run folder, base, scan), measure, plan, extract, fit (or select on small data), baseline, fine-tune gate, gate, refit, export, report. */
@injectable()
export class TrainStages {
  constructor(
    @inject(RunFolderStage) readonly runFolder: RunFolderStage,
    @inject(BaseStage) readonly base: BaseStage,
    @inject(ScanStage) readonly scan: ScanStage,
    @inject(MeasureStage) readonly measure: MeasureStage,
    @inject(PlanStage) readonly plan: PlanStage,
    @inject(ExtractStage) readonly extract: ExtractStage,
    @inject(FitStage) readonly fit: FitStage,
    @inject(BaselineStage) readonly baseline: BaselineStage,
    @inject(FineTuneGateStage) readonly fineTuneGate: FineTuneGateStage,
    @inject(GateStage) readonly gate: GateStage,
    @inject(RefitBaselineStage) readonly refitBaseline: RefitBaselineStage,
    @inject(ExportStage) readonly exportFolder: ExportStage,
    @inject(ReportStage) readonly report: ReportStage,
    @inject(SelectionPlanStage) readonly selectionPlan: SelectionPlanStage,
    @inject(SelectFeaturesStage) readonly selectFeatures: SelectFeaturesStage,
    @inject(SelectHeadStage) readonly selectHead: SelectHeadStage,
    @inject(CrossValidatedGateStage) readonly crossValidatedGate: CrossValidatedGateStage,
  ) {}

  list() {
    return StageList.start<RunFolderInput & JobStart>()
      .then(this.runFolder)
      .then(this.base)
      .then(this.scan)
      .then(this.measure)
      .then(this.plan)
      .then(this.selectionPlan)
      .then(preloadReportStage)
      .then(this.selectFeatures)
      .then(unlessFeaturesSelected(this.extract))
      .then(this.selectHead)
      .then(unlessHeadSelected(this.fit))
      .then(this.baseline)
      .then(this.fineTuneGate)
      .then(unlessHeadSelected(this.gate))
      .then(this.refitBaseline)
      .then(this.crossValidatedGate)
      .then(this.exportFolder)
      .then(totalTime)
      .then(this.report);
  }
}

type TrainContext = ReturnType<TrainStages['list']> extends StageList<infer Context> ? Context : never;

/** What `train` returns (and prints with --json), read off the finished job's context. */
function trainResultOf(c: TrainContext): TrainResult {
  const phases = c.trained.phases;
  return {
    exportDir: c.exported.dir,
    runId: c.run.id,
    runDir: c.run.dir,
    ...(c.reportPath ? { reportPath: c.reportPath } : {}),
    version: c.exported.version,
    backend: { name: c.backend.name, reason: c.backend.reason },
    plan: c.plan,
    labels: c.dataset.labels,
    metrics: c.metrics,
    ...(c.quantization ? { quantization: c.quantization } : {}),
    skipped: c.dataset.skipped,
    warnings: [...c.dataset.warnings, ...(c.belowEarlierBest ? [c.belowEarlierBest] : [])],
    features: { computed: c.features.computed, fromCache: c.features.fromCache, trainingExamples: c.features.train.labels.length },
    timings: c.timings,
    training: {
      resumed: Boolean(c.resume),
      warnings: phases.flatMap((phase) => phase.warnings.map((warning) => ({ phase: phase.name, ...warning }))),
      recoveries: phases.flatMap((phase) => phase.recoveries.map((recovery) => ({ phase: phase.name, ...recovery }))),
    },
  };
}

/** The whole `train` job: its stages run by the one runner. */
@injectable()
export class TrainPipeline {
  constructor(
    @inject(TrainStages) private readonly stages: TrainStages,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  async run(dataDir: string, resolvedConfig?: unknown, options: TrainRunOptions = {}): Promise<TrainResult> {
    const job = await runStages(this.stages.list(), { dataDir, resolvedConfig, resume: options.resume, timings: {} }, {
      logger: this.logger,
      signal: options.signal,
      resumeHint: (context) => this.stages.runFolder.resumeHint(context.run as TrainContext['run'] | undefined),
    });
    try {
      return trainResultOf(job.context);
    } finally {
      job.dispose();
    }
  }
}
