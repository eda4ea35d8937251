import { inject, injectable } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import { TrainingInterrupted } from '../errors';
import { Logger } from '../logger';
import { releaseWeights } from '../models/release-weights';
import type { Stage, StageServices } from '../pipeline/stage';
import { trainClassifier, type TrainedClassifier } from '../pipeline/train-classifier';
import { Progress } from '../progress';
import { appendEpochRecord } from '../runs/run-directory';
import { LambdaCallback } from '../train/lambda-callback';
import type { BaseOutput } from './base-stage';
import type { ExtractOutput } from './extract-stage';
import type { PlanOutput } from './plan-stage';
import type { RunFolderInput, RunFolderOutput } from './run-folder-stage';
import type { ScanOutput } from './scan-stage';

export type FitInput = Pick<BaseOutput, 'base'> & Pick<ScanOutput, 'dataset'> & Pick<PlanOutput, 'plan'> & Pick<ExtractOutput, 'features'> & Pick<RunFolderOutput, 'run'> & Pick<RunFolderInput, 'resume'>;

export interface FitOutput {
  trained: TrainedClassifier;
}

/** fit: the head (and, when the plan fine-tunes, the top of the base), checkpointed every epoch into the run folder. */
@injectable()
export class FitStage implements Stage<FitInput, FitOutput> {
  readonly name = 'fit';
  readonly timing = 'train_s';

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
    @inject(Progress) private readonly progress: Progress,
  ) {}

  readonly run = async ({ base, dataset, plan, features, run, resume }: FitInput, services: StageServices): Promise<FitOutput> => {
    if (services.signal?.aborted) throw new TrainingInterrupted('Interrupted before training started.');
    const trained = await trainClassifier({
      plan,
      baseModel: base.network.kind === 'layers' ? base.network.model : undefined,
      train: features.train,
      val: features.val,
      numClasses: dataset.labels.length,
      config: this.config,
      logger: this.logger,
      progress: this.progress,
      callbacks: (phase) => [new LambdaCallback({ onEpoch: (log) => appendEpochRecord(run, { phase, ...log }) })],
      checkpointDir: run.checkpointDir,
      resume: Boolean(resume),
      signal: services.signal,
    });
    services.own({ dispose: () => releaseWeights(trained.head) });
    return { trained };
  };

  readonly rates = ({ trained }: FitOutput) => ({ train_img_per_s: trained.phases.at(-1)!.imagesPerSecond });
}
