import { inject, injectable } from 'inversify';
import { chooseBackend, type BackendChoice } from '../backend/choose-backend';
import { FinetuneConfig } from '../config/schema';
import { DataError } from '../errors';
import { Logger } from '../logger';
import type { BaseModel } from '../models/base-model';
import { BaseModelLoader } from '../models/base-model-loader';
import type { Stage, StageServices } from '../pipeline/stage';
import { ImageDecoder } from '../preprocess/image-decoder';
import { inputContract, type InputContract } from '../preprocess/input-contract';

export interface BaseOutput {
  backend: BackendChoice;
  /** Owned by the job (released when it ends). */
  base: BaseModel;
  /** How images enter the model: size, fit, range, and the decoder's description of them. */
  input: InputContract;
}

/** prepare (2/4): the tfjs backend, the base model, and the input size it is fed at. */
@injectable()
export class BaseStage implements Stage<object, BaseOutput> {
  readonly name = 'base';
  readonly timing = 'base_s';
  /** What loading the base measured on its own (e.g. twin_s: rebuilding a hub MobileNet as a trainable twin). */
  readonly rates = (output: BaseOutput) => ({ ...output.base.timings });

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
    @inject(ImageDecoder) private readonly decoder: ImageDecoder,
    @inject(BaseModelLoader) private readonly baseLoader: BaseModelLoader,
  ) {}

  readonly run = async (_input: object, services: StageServices): Promise<BaseOutput> => {
    const { config } = this;
    const backend = await chooseBackend(config.backend);
    this.logger.info(`backend: ${backend.name} (${backend.reason})`);
    const base = await this.baseLoader.load(config.base.id);
    services.own(base);
    const imageSize = config.preprocess.imageSize || base.inputSize;
    if (base.network.kind === 'graph' && imageSize !== base.inputSize) {
      throw new DataError(`Received preprocess.imageSize=${imageSize}. The GraphModel base ${base.id} takes only ${base.inputSize}; use --image-size ${base.inputSize} or 0.`);
    }
    const input = inputContract({ size: imageSize, fit: config.preprocess.fit, maxInputPixels: config.preprocess.maxInputPixels }, this.decoder);
    return { backend, base, input };
  };
}
