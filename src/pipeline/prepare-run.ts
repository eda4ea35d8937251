import { inject, injectable } from 'inversify';
import type { BackendChoice } from '../backend/choose-backend';
import type { Dataset } from '../data/dataset';
import type { FeatureKeyParts } from '../features/feature-key-parts';
import { Logger } from '../logger';
import type { BaseModel } from '../models/base-model';
import type { Plan } from '../policy/plan';
import type { InputContract } from '../preprocess/input-contract';
import { BaseStage } from '../stages/base-stage';
import { MeasureStage } from '../stages/measure-stage';
import { PlanStage } from '../stages/plan-stage';
import { ScanStage } from '../stages/scan-stage';
import { runStages, StageList, type JobStart } from './stage';

export interface PreparedRun {
  backend: BackendChoice;
  /** The caller disposes it. */
  base: BaseModel;
  dataset: Dataset;
  plan: Plan;
  /** How images enter the model (the job's input contract). */
  decode: InputContract;
  /** What besides image bytes determines cached features. */
  keyParts: FeatureKeyParts;
  timings: Record<string, number>;
}

/** The `plan` job, which `train` and `doctor` start with too: base, scan, measure, plan. */
@injectable()
export class RunPreparation {
  constructor(
    @inject(BaseStage) readonly base: BaseStage,
    @inject(ScanStage) readonly scan: ScanStage,
    @inject(MeasureStage) readonly measure: MeasureStage,
    @inject(PlanStage) readonly plan: PlanStage,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  list() {
    return StageList.start<{ dataDir: string } & JobStart>().then(this.base).then(this.scan).then(this.measure).then(this.plan);
  }

  /** Runs the `plan` job; the base model stays loaded for the caller (who disposes it). */
  async prepare(dataDir: string): Promise<PreparedRun> {
    const { context } = await runStages(this.list(), { dataDir, timings: {} }, { logger: this.logger });
    const { backend, base, dataset, plan, input, keyParts, timings } = context;
    return { backend, base, dataset, plan, decode: input, keyParts, timings };
  }
}
