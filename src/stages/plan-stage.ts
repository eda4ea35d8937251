import { inject, injectable } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import { countByLabel } from '../data/dataset';
import { boundaryKeyParts, type FeatureKeyParts } from '../features/feature-key-parts';
import { Logger } from '../logger';
import type { Stage } from '../pipeline/stage';
import { makePlan, type Plan } from '../policy/plan';
import type { BaseOutput } from './base-stage';
import type { MeasureOutput } from './measure-stage';
import type { ScanOutput } from './scan-stage';

export type PlanInput = Pick<BaseOutput, 'base' | 'input'> & Pick<ScanOutput, 'dataset' | 'boundaryInputs'> & MeasureOutput;

export interface PlanOutput {
  plan: Plan;
  /** The feature-cache name of the frozen part's output at the plan's boundary. */
  keyParts: FeatureKeyParts;
}

/** prepare (4/4): the 2x2 matrix decides: dataset size, similarity, freeze boundary, pooling, reasons. */
@injectable()
export class PlanStage implements Stage<PlanInput, PlanOutput> {
  readonly name = 'plan';

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  readonly run = async ({ base, input, dataset, boundaryInputs, similarity }: PlanInput): Promise<PlanOutput> => {
    const { config } = this;
    const plan = makePlan({
      ...boundaryInputs,
      similarity,
      perClass: countByLabel(dataset.train, dataset.labels),
      largeMinImages: config.policy.largeMinImages,
      largeMinImagesPerClass: config.policy.largeMinImagesPerClass,
    });
    this.logger.info(`plan: ${plan.policy}, ${plan.fineTune ? `fine-tune from ${plan.cutLayer} to ${plan.fineTune.until}` : `head on ${plan.cutLayer}`}`);
    return { plan, keyParts: boundaryKeyParts(plan, base.sha256, input.preprocessing) };
  };
}
