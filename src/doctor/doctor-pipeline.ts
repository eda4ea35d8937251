import type * as tf from '@tensorflow/tfjs';
import { inject, injectable } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import { Logger } from '../logger';
import { RunPreparation } from '../pipeline/prepare-run';
import { runStages, totalTime, type Stage } from '../pipeline/stage';
import { headFitOptions } from '../pipeline/train-classifier';
import { ChecksStage } from '../stages/checks-stage';
import { FingerprintStage, type FingerprintOutput } from '../stages/fingerprint-stage';
import { HeadFeaturesStage, type HeadFeaturesOutput } from '../stages/head-features-stage';
import type { BaseOutput } from '../stages/base-stage';
import type { ScanOutput } from '../stages/scan-stage';
import { buildConfiguredHead } from '../train/head';
import type { CheckResult, CheckStatus } from './check-result';
import type { DoctorInputs } from './doctor-inputs';
import { countStatuses } from './run-checks';
import { shortRun, shortRunEpochs, type ShortRun } from './short-run';

export interface DoctorReport {
  checks: CheckResult[];
  summary: Record<CheckStatus, number>;
  backend: { name: string; reason: string };
  /** Layer whose pooled output the head reads, and the features it took from the cache. */
  features: { layer: string; computed: number; fromCache: number };
  timings: Record<string, number>;
}

export interface PreparedDoctorInputs {
  inputs: DoctorInputs;
  backend: DoctorReport['backend'];
  features: DoctorReport['features'];
  timings: Record<string, number>;
  dispose(): void;
}

type InputsStageInput = Pick<ScanOutput, 'dataset'> & FingerprintOutput & HeadFeaturesOutput & Pick<BaseOutput, 'input'>;

/** doctor: what the checks read, with a fresh head built as `train` builds it and a short run of the real head training. */
function doctorInputsStage(config: FinetuneConfig, logger: Logger): Stage<InputsStageInput, { doctorInputs: DoctorInputs }> {
  return {
    name: 'doctor-inputs',
    run: async ({ dataset, fingerprints, rawTrain, train, val, input }) => {
      const numClasses = dataset.labels.length;
      const newHead = (options?: { dropout?: number }): tf.Sequential => buildConfiguredHead(config.train, train.x.shape[1], numClasses, options);
      let run: Promise<ShortRun> | undefined;
      const shortRunOnce = () =>
        (run ??= (async () => {
          const head = newHead();
          try {
            return await shortRun({ head, train, val, numClasses, options: headFitOptions(config, logger, Math.min(shortRunEpochs, config.train.epochs)) });
          } finally {
            head.dispose();
          }
        })());
      return { doctorInputs: { dataset, numClasses, inputSize: input.size, fingerprints, rawTrain, train, val, config, newHead, shortRun: shortRunOnce } };
    },
  };
}

/** `doctor`: the same stages and frozen features as `train` (shared cache), then the tuning guide's checks. */
@injectable()
export class DoctorPipeline {
  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
    @inject(RunPreparation) private readonly preparation: RunPreparation,
    @inject(FingerprintStage) private readonly fingerprint: FingerprintStage,
    @inject(HeadFeaturesStage) private readonly headFeatures: HeadFeaturesStage,
    @inject(ChecksStage) private readonly checks: ChecksStage,
  ) {}

  /** plan's stages, then fingerprints, the head's features, and the checks' inputs. */
  private inputsList() {
    return this.preparation.list().then(this.fingerprint).then(this.headFeatures).then(doctorInputsStage(this.config, this.logger));
  }

  async run(dataDir: string): Promise<DoctorReport> {
    const job = await runStages(this.inputsList().then(this.checks).then(totalTime), { dataDir, timings: {} }, { logger: this.logger });
    try {
      const { checks, backend, headFeatures, timings } = job.context;
      return { checks, summary: countStatuses(checks), backend: { name: backend.name, reason: backend.reason }, features: headFeatures, timings };
    } finally {
      job.dispose();
    }
  }

  /** Everything the checks read, prepared as `train` prepares it; dispose() releases the tensors and the base. */
  async prepareInputs(dataDir: string): Promise<PreparedDoctorInputs> {
    const job = await runStages(this.inputsList(), { dataDir, timings: {} }, { logger: this.logger });
    const { doctorInputs, backend, headFeatures, timings } = job.context;
    return { inputs: doctorInputs, backend: { name: backend.name, reason: backend.reason }, features: headFeatures, timings, dispose: job.dispose };
  }
}
