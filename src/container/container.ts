import 'reflect-metadata';
import { Container, ContainerModule } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import { DoctorPipeline } from '../doctor/doctor-pipeline';
import { DiskFeatureCache } from '../features/disk-feature-cache';
import { FeatureCache } from '../features/feature-cache';
import { Logger } from '../logger';
import { BaseModelSource } from '../models/base-model';
import { BaseModelLoader } from '../models/base-model-loader';
import { HubMobileNetSource } from '../models/hub-mobilenet-source';
import { LocalLayersSource } from '../models/local-layers-source';
import { NsfwjsMobileNetSource } from '../models/nsfwjs-mobilenet-source';
import { Progress, silentProgress } from '../progress';
import { ClassifyPipeline } from '../pipeline/classify-pipeline';
import { RunPreparation } from '../pipeline/prepare-run';
import { TrainPipeline, TrainStages } from '../pipeline/train-pipeline';
import { BaseStage } from '../stages/base-stage';
import { ChecksStage } from '../stages/checks-stage';
import { CrossValidatedGateStage } from '../stages/cross-validated-gate-stage';
import { ExportStage } from '../stages/export-stage';
import { ExtractStage } from '../stages/extract-stage';
import { FingerprintStage } from '../stages/fingerprint-stage';
import { BaselineStage } from '../stages/baseline-stage';
import { RefitBaselineStage } from '../stages/refit-baseline-stage';
import { FineTuneGateStage } from '../stages/fine-tune-gate-stage';
import { FitStage } from '../stages/fit-stage';
import { GateStage } from '../stages/gate-stage';
import { HeadFeaturesStage } from '../stages/head-features-stage';
import { MeasureStage } from '../stages/measure-stage';
import { PlanStage } from '../stages/plan-stage';
import { ReportStage } from '../stages/report-stage';
import { RunFolderStage } from '../stages/run-folder-stage';
import { ScanStage } from '../stages/scan-stage';
import { SelectFeaturesStage } from '../stages/select-features-stage';
import { SelectHeadStage } from '../stages/select-head-stage';
import { SelectionPlanStage } from '../stages/selection-plan-stage';
import { ImageDecoder } from '../preprocess/image-decoder';
import { SharpImageDecoder } from '../preprocess/sharp-image-decoder';
import { ModelServer } from '../serve/model-server';

const preprocessModule = new ContainerModule((bind) => {
  bind(ImageDecoder).to(SharpImageDecoder).inSingletonScope();
});

const modelsModule = new ContainerModule((bind) => {
  bind(BaseModelSource).to(NsfwjsMobileNetSource);
  bind(BaseModelSource).to(HubMobileNetSource);
  bind(BaseModelSource).to(LocalLayersSource);
  bind(BaseModelLoader).toSelf();
});

const featuresModule = new ContainerModule((bind) => {
  bind(FeatureCache).to(DiskFeatureCache).inSingletonScope();
});

/** Every stage of every job; the pipelines list them. */
const stagesModule = new ContainerModule((bind) => {
  for (const stage of [RunFolderStage, BaseStage, ScanStage, MeasureStage, PlanStage, ExtractStage, FitStage, BaselineStage, FineTuneGateStage, GateStage, RefitBaselineStage, ExportStage, ReportStage, FingerprintStage, HeadFeaturesStage, ChecksStage, SelectionPlanStage, SelectFeaturesStage, SelectHeadStage, CrossValidatedGateStage]) {
    bind(stage).toSelf();
  }
});

const pipelineModule = new ContainerModule((bind) => {
  bind(RunPreparation).toSelf();
  bind(TrainStages).toSelf();
  bind(TrainPipeline).toSelf();
  bind(ClassifyPipeline).toSelf();
  bind(DoctorPipeline).toSelf();
});

const serveModule = new ContainerModule((bind) => {
  bind(ModelServer).toSelf();
});

/** The one composition root: configuration, logger and progress display in, every stage bound to its implementation. */
export function createContainer(config: FinetuneConfig, logger: Logger, progress: Progress = silentProgress): Container {
  const container = new Container();
  container.bind(FinetuneConfig).toConstantValue(config);
  container.bind(Logger).toConstantValue(logger);
  container.bind(Progress).toConstantValue(progress);
  container.load(preprocessModule, modelsModule, featuresModule, stagesModule, pipelineModule, serveModule);
  return container;
}
