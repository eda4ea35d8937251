import { inject, injectable } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import { TrainingInterrupted } from '../errors';
import { Logger } from '../logger';
import { releaseWeights } from '../models/release-weights';
import type { Stage, StageServices } from '../pipeline/stage';
import { crossValidates, trainBySelection } from '../pipeline/train-by-selection';
import type { TrainedClassifier } from '../pipeline/train-classifier';
import { appendEpochRecord } from '../runs/run-directory';
import type { HeadSelection } from '../select/select-head';
import { selectionSummary } from '../select/selection-summary';
import type { ExtractOutput } from './extract-stage';
import type { PlanOutput } from './plan-stage';
import type { RunFolderOutput } from './run-folder-stage';
import type { SelectFeaturesOutput } from './select-features-stage';
import type { ScanOutput } from './scan-stage';
import { labelledImages } from './selection-plan-stage';

export type SelectHeadInput = Pick<ScanOutput, 'dataset'> & Pick<PlanOutput, 'plan'> & Pick<ExtractOutput, 'features'> & Pick<RunFolderOutput, 'run'> & Partial<Pick<SelectFeaturesOutput, 'baseline'>>;

/** Present only when cross-validation chose the head (the fit stage is then skipped). */
export interface SelectHeadOutput {
  selection?: HeadSelection;
  trained?: TrainedClassifier;
  /** The plan with `selection`: the candidates tried, the winner and why. */
  plan?: PlanOutput['plan'];
}

/**
 * select: on small data with a frozen base and no augmented views, stratified k-fold cross-validation
 * over all labelled training images chooses the head (or the logistic-regression baseline), which is
 * then trained on all of them. It replaces fit's held-out split.
 */
@injectable()
export class SelectHeadStage implements Stage<SelectHeadInput, SelectHeadOutput> {
  readonly name = 'select';
  readonly timing = 'train_s';

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  readonly applies = ({ dataset, plan }: SelectHeadInput) => crossValidates(this.config, plan, labelledImages(dataset));

  readonly run = async ({ dataset, plan, features, run, baseline }: SelectHeadInput, services: StageServices): Promise<SelectHeadOutput> => {
    if (services.signal?.aborted) throw new TrainingInterrupted('Interrupted before training started.');
    this.logger.info(`small data: ${this.config.train.folds}-fold cross-validation on all ${labelledImages(dataset)} labelled training images chooses the head`);
    const { trained, selection } = await trainBySelection({
      config: this.config,
      logger: this.logger,
      train: features.train,
      val: features.val,
      numClasses: dataset.labels.length,
      baseline,
      signal: services.signal,
      onEpoch: (log) => appendEpochRecord(run, { phase: 'head', ...log }),
    });
    services.own({ dispose: () => releaseWeights(trained.head) });
    return { trained, selection, plan: { ...plan, selection: selectionSummary(selection) } };
  };

  readonly rates = ({ trained }: SelectHeadOutput): Record<string, number> => (trained ? { train_img_per_s: trained.phases.at(-1)!.imagesPerSecond } : {});
}

/** `stage`, skipped when cross-validation already chose (and trained, and scored) the head. */
export function unlessHeadSelected<In, Out>(stage: Stage<In, Out>): Stage<In & Pick<SelectHeadOutput, 'selection'>, Out> {
  return {
    name: stage.name,
    timing: stage.timing,
    clock: stage.clock,
    applies: (input) => !input.selection && (stage.applies?.(input) ?? true),
    run: (input, services) => stage.run(input, services),
    rates: stage.rates,
    onFailure: stage.onFailure,
  };
}
