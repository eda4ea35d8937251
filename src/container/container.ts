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
import { TrainPipeline } from '../pipeline/train-pipeline';
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

const pipelineModule = new ContainerModule((bind) => {
  bind(RunPreparation).toSelf();
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
  container.load(preprocessModule, modelsModule, featuresModule, pipelineModule, serveModule);
  return container;
}
