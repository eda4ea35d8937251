import { inject, injectable } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import { RuntimeFailure } from '../errors';
import type { ExportMetadata } from '../export/export-metadata';
import { Logger } from '../logger';
import type { Stage } from '../pipeline/stage';
import type { LabelledData } from '../train/fit';
import type { ExtractOutput } from './extract-stage';
import type { FitOutput } from './fit-stage';
import type { ScanOutput } from './scan-stage';

export type GateInput = Pick<ScanOutput, 'dataset'> & Pick<ExtractOutput, 'features'> & FitOutput;

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
}

/** gate: scores the trained network on the validation (and test) split and refuses to go on below export.minAccuracy. */
@injectable()
export class GateStage implements Stage<GateInput, GateOutput> {
  readonly name = 'gate';

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  readonly run = async ({ dataset, features, trained }: GateInput): Promise<GateOutput> => {
    const { train, val, test } = features;
    const score = (data: LabelledData | undefined) => (data ? { ...trained.score(data), n: data.labels.length } : undefined);
    const valScore = score(val) ?? { ...trained.score(train), n: 0 };
    const testScore = score(test);
    const metrics: ExportMetadata['metrics'] = { val: valScore, ...(testScore ? { test: testScore } : {}) };
    this.logger.info(`validation accuracy ${valScore.accuracy.toFixed(3)}`);
    const validationProbabilities = val ? await trained.probabilities(val.x) : undefined;
    const { minAccuracy } = this.config.export;
    const accuracyGate: AccuracyGate = {
      minAccuracy,
      require(accuracy, what) {
        if (accuracy >= minAccuracy) return;
        throw new RuntimeFailure(
          `The ${what} validation accuracy is ${accuracy.toFixed(3)} (on ${valScore.n || dataset.train.length} images), below export.minAccuracy ${minAccuracy}; nothing was exported. ` +
            'Add or clean data, train longer, choose another policy, or lower --min-accuracy.',
        );
      },
    };
    accuracyGate.require(valScore.accuracy, 'model');
    return { metrics, validationProbabilities, accuracyGate };
  };
}
