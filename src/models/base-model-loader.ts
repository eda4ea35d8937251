import { inject, injectable, multiInject } from 'inversify';
import { DataError } from '../errors';
import { Logger } from '../logger';
import { BaseModelSource, type BaseModel } from './base-model';

/** Loads a base model by id from the first source that accepts it. */
@injectable()
export class BaseModelLoader {
  constructor(
    @multiInject(BaseModelSource) private readonly sources: BaseModelSource[],
    @inject(Logger) private readonly logger: Logger,
  ) {}

  async load(id: string): Promise<BaseModel> {
    const source = this.sources.find((candidate) => candidate.accepts(id));
    if (!source) {
      throw new DataError(
        `Unknown base model "${id}". Expected mobilenet_v2 (offline default), mobilenet_v1_<alpha> or mobilenet_v2_<alpha> ` +
          '(TF Hub, e.g. mobilenet_v2_1.00), or a folder holding a tfjs model.json.',
      );
    }
    const started = Date.now();
    const base = await source.load(id);
    this.logger.info(`base model ${base.id} from ${base.source} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return base;
  }
}
