import { inject, injectable } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import { crossValidates, selectionPlanned } from '../pipeline/train-by-selection';
import type { Stage } from '../pipeline/stage';
import { alternativeDepth } from '../select/alternative-depth';
import type { PlanOutput } from './plan-stage';
import type { ScanOutput } from './scan-stage';

export type SelectionPlanInput = Pick<ScanOutput, 'dataset'> & Pick<PlanOutput, 'plan'>;

/** After the plan (plan and train): on small data, the plan says that cross-validation will choose the head. */
@injectable()
export class SelectionPlanStage implements Stage<SelectionPlanInput, Pick<PlanOutput, 'plan'>> {
  readonly name = 'selection-plan';

  constructor(@inject(FinetuneConfig) private readonly config: FinetuneConfig) {}

  readonly applies = ({ dataset, plan }: SelectionPlanInput) => crossValidates(this.config, plan, labelledImages(dataset));

  readonly run = async ({ dataset, plan }: SelectionPlanInput) => {
    const other = alternativeDepth(plan.similarity, plan.cutLayer);
    const depths = other ? `${plan.cutLayer} and ${other} (the best-scoring other depth)` : plan.cutLayer;
    const readouts =
      plan.similarity.scores.length > 1
        ? [`Before that, the logistic regression is cross-validated on ${depths}, each averaged and over the 2x2 grid where the map allows, and the head reads the one that scores highest.`]
        : [];
    return { plan: { ...plan, reasons: [...plan.reasons, selectionPlanned(this.config, labelledImages(dataset)), ...readouts] } };
  };
}

/** The images cross-validation pools: the training split and the validation split it replaces. */
export function labelledImages(dataset: SelectionPlanInput['dataset']): number {
  return dataset.train.length + dataset.val.length;
}
