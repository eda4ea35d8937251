import { inject, injectable } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import { RuntimeFailure } from '../errors';
import type { ExportMetadata } from '../export/export-metadata';
import { Logger } from '../logger';
import type { Stage } from '../pipeline/stage';
import { checkAgainstEarlierBest } from '../runs/earlier-best';
import type { TrainedClassifier } from '../pipeline/train-classifier';
import type { LabelledData } from '../train/fit';
import type { ExtractOutput } from './extract-stage';
import type { FitOutput } from './fit-stage';
import type { RunFolderOutput } from './run-folder-stage';
import type { ScanOutput } from './scan-stage';

export type GateInput = Pick<ScanOutput, 'dataset'> & Pick<ExtractOutput, 'features'> & FitOutput & Partial<Pick<RunFolderOutput, 'earlierBest'>>;

/** Refuses a model whose validation accuracy is below export.minAccuracy (also applied to the quantized export). */
export interface AccuracyGate {
  minAccuracy: number;
  /** Throws a RuntimeFailure when `accuracy` (of the model named `what`) is below the gate. */
  require(accuracy: number, what: string): void;
}

export interface GateOutput {
  /** What the export's metadata, the result and the report quote. */
  metrics: ExportMetadata['metrics'];
  /** Class probabilities of every validation image, [examples x classes] row-major (for the report). */
  validationProbabilities?: Float32Array;
  accuracyGate: AccuracyGate;
  /** The loud warning when a resumed run's model is below the run's own earlier best (refused instead when minAccuracy is set). */
  belowEarlierBest?: string;
}

/** gate: scores the trained network on the validation (and test) split and refuses to go on below export.minAccuracy. */
@injectable()
export class GateStage implements Stage<GateInput, GateOutput> {
  readonly name = 'gate';

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  readonly run = async ({ dataset, features, trained, earlierBest }: GateInput): Promise<GateOutput> => {
    const { train, val, test } = features;
    const valScore = scoreOn(trained, val) ?? { ...scoreOn(trained, train)!, n: 0 };
    const testScore = scoreOn(trained, test);
    const metrics: ExportMetadata['metrics'] = { val: valScore, ...(testScore ? { test: testScore } : {}) };
    this.logger.info(`validation accuracy ${valScore.accuracy.toFixed(3)}`);
    const validationProbabilities = val ? await trained.probabilities(val.x) : undefined;
    const accuracyGate = accuracyGateOf(this.config.export.minAccuracy, valScore.n || dataset.train.length);
    accuracyGate.require(valScore.accuracy, 'model');
    const belowEarlierBest = checkAgainstEarlierBest(valScore, earlierBest, accuracyGate.minAccuracy);
    if (belowEarlierBest) this.logger.warn(belowEarlierBest);
    return { metrics, validationProbabilities, accuracyGate, ...(belowEarlierBest ? { belowEarlierBest } : {}) };
  };
}

/** The model's loss and accuracy on `data` and on how many images, as metrics quote them (none without data). */
export function scoreOn(trained: Pick<TrainedClassifier, 'score'>, data: LabelledData | undefined): { loss: number; accuracy: number; n: number } | undefined {
  if (!data) return undefined;
  const { loss, accuracy } = trained.score(data);
  return { loss, accuracy, n: data.labels.length };
}

/** The gate at export.minAccuracy for an accuracy measured on `images` images. */
export function accuracyGateOf(minAccuracy: number, images: number): AccuracyGate {
  return {
    minAccuracy,
    require(accuracy, what) {
      if (accuracy >= minAccuracy) return;
      throw new RuntimeFailure(
        `The ${what} validation accuracy is ${accuracy.toFixed(3)} (on ${images} images), below export.minAccuracy ${minAccuracy}; nothing was exported. ` +
          'Add or clean data, train longer, choose another policy, or lower --min-accuracy.',
      );
    },
  };
}
