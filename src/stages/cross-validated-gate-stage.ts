import { inject, injectable } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import type { ImageRecord } from '../data/dataset';
import type { ExportMetadata } from '../export/export-metadata';
import { Logger } from '../logger';
import type { Stage } from '../pipeline/stage';
import type { HeadSelection } from '../select/select-head';
import type { ExtractOutput } from './extract-stage';
import type { FitOutput } from './fit-stage';
import { accuracyGateOf, scoreOn, type GateOutput } from './gate-stage';
import type { ScanOutput } from './scan-stage';
import type { SelectHeadOutput } from './select-head-stage';

export type CrossValidatedGateInput = Pick<ScanOutput, 'dataset'> & Pick<ExtractOutput, 'features'> & FitOutput & Pick<SelectHeadOutput, 'selection'>;

export interface CrossValidatedGateOutput extends GateOutput {
  /** The images validationProbabilities are of: every labelled training image, scored out of fold. */
  validationRecords: ImageRecord[];
}

/**
 * gate, after cross-validation: the cross-validated estimate (with its spread over folds) is the
 * validation accuracy the gate, the export and the report quote; a test split is scored as usual.
 */
@injectable()
export class CrossValidatedGateStage implements Stage<CrossValidatedGateInput, Partial<CrossValidatedGateOutput>> {
  readonly name = 'cross-validated-gate';

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  readonly applies = ({ selection }: CrossValidatedGateInput) => Boolean(selection);

  readonly run = async ({ dataset, features, trained, selection }: CrossValidatedGateInput): Promise<CrossValidatedGateOutput> => {
    const estimate = selection!.estimate;
    const val = crossValidatedScore(selection!);
    const test = scoreOn(trained, features.test);
    const metrics: ExportMetadata['metrics'] = { val, ...(test ? { test } : {}) };
    this.logger.info(`cross-validated accuracy ${val.accuracy.toFixed(3)} ± ${estimate.foldStd.toFixed(3)} over ${estimate.folds} folds (n=${val.n})`);
    const accuracyGate = accuracyGateOf(this.config.export.minAccuracy, val.n);
    accuracyGate.require(val.accuracy, 'cross-validated');
    return {
      metrics,
      validationProbabilities: Float32Array.from(estimate.probabilities),
      validationRecords: [...dataset.train, ...dataset.val],
      accuracyGate,
    };
  };
}

/** The cross-validated estimate as the validation metric: accuracy, log loss, n, and the spread over folds. */
function crossValidatedScore({ estimate }: HeadSelection): ExportMetadata['metrics']['val'] {
  return { accuracy: estimate.accuracy, loss: estimate.logLoss, n: estimate.n, foldStd: estimate.foldStd, folds: estimate.folds };
}
