import { injectable } from 'inversify';
import type { Stage } from '../pipeline/stage';
import { withFineTuneGate, type Plan } from '../policy/plan';
import type { FitOutput } from './fit-stage';
import type { PlanOutput } from './plan-stage';

export type FineTuneGateInput = Pick<PlanOutput, 'plan'> & FitOutput;

/**
 * fine-tune-gate: records on the plan what fit's keep-or-drop step decided (keepOrDropFineTuning in
 * the fine-tuning phase, which already put the head-only weights back when fine-tuning lost), so
 * the export's metadata, the result and the report all quote the decision and its numbers.
 */
@injectable()
export class FineTuneGateStage implements Stage<FineTuneGateInput, { plan: Plan }> {
  readonly name = 'fine-tune-gate';

  readonly applies = ({ trained }: FineTuneGateInput) => trained.fineTuneGate !== undefined;

  readonly run = async ({ plan, trained }: FineTuneGateInput) => ({ plan: withFineTuneGate(plan, trained.fineTuneGate) });
}
