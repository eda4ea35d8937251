import { inject, injectable } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import type { ExportMetadata } from '../export/export-metadata';
import { Logger } from '../logger';
import { releaseWeights } from '../models/release-weights';
import type { Stage, StageServices } from '../pipeline/stage';
import { withBaselineRefit, type Plan } from '../policy/plan';
import type { ExtractOutput } from './extract-stage';
import type { FitOutput } from './fit-stage';
import { scoreOn, type GateOutput } from './gate-stage';
import type { PlanOutput } from './plan-stage';

export type RefitBaselineInput = Pick<PlanOutput, 'plan'> & FitOutput & Pick<ExtractOutput, 'features'> & Pick<GateOutput, 'metrics'>;

/**
 * refit: when the baseline is what gets exported (large data), it is refitted on the training and
 * validation images together (refitBaseline). It runs after the gate, so the validation accuracy,
 * the report's validation predictions and export.minAccuracy stay those of the fit the validation
 * images did not see; a test split is scored again, on the model exported.
 */
@injectable()
export class RefitBaselineStage implements Stage<RefitBaselineInput, FitOutput & { plan: Plan; metrics: ExportMetadata['metrics'] }> {
  readonly name = 'refit';
  readonly timing = 'refit_s';

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  readonly applies = ({ trained }: RefitBaselineInput) => this.config.train.refitBaseline && trained.refitBaselineOnAll !== undefined;

  readonly run = async ({ plan, trained, features, metrics }: RefitBaselineInput, services: StageServices) => {
    const { trained: refitted, refit } = trained.refitBaselineOnAll!();
    services.own({ dispose: () => releaseWeights(refitted.head) });
    this.logger.info(`${refit.reason} (${refit.seconds.toFixed(1)} s.)`);
    const testScore = scoreOn(refitted, features.test);
    return { trained: refitted, plan: withBaselineRefit(plan, refit), metrics: { ...metrics, ...(testScore ? { test: testScore } : {}) } };
  };
}
