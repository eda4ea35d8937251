import { injectable } from 'inversify';
import type { Stage } from '../pipeline/stage';
import { withBaseline, type Plan } from '../policy/plan';
import type { FitOutput } from './fit-stage';
import type { PlanOutput } from './plan-stage';

export type BaselineInput = Pick<PlanOutput, 'plan'> & FitOutput;

/**
 * baseline: records on the plan what fit decided between the trained head and the logistic
 * regression baseline on the validation split (headOrBaseline), so the export's metadata, the
 * result and the report all quote it.
 */
@injectable()
export class BaselineStage implements Stage<BaselineInput, { plan: Plan }> {
  readonly name = 'baseline';

  readonly applies = ({ trained }: BaselineInput) => trained.baseline !== undefined;

  readonly run = async ({ plan, trained }: BaselineInput) => ({ plan: withBaseline(plan, trained.baseline) });
}
