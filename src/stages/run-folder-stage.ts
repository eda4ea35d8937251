import { inject, injectable } from 'inversify';
import path from 'node:path';
import { FinetuneConfig } from '../config/schema';
import { Logger } from '../logger';
import type { Stage } from '../pipeline/stage';
import { createRunDirectory, openRunDirectory, writeRunConfig, writeRunInfo, type RunDirectory } from '../runs/run-directory';

export interface RunFolderInput {
  dataDir: string;
  /** The configuration with its origins, as written to the run's config.json. */
  resolvedConfig?: unknown;
  /** Run id (or folder) to continue from its checkpoints. */
  resume?: string;
}

export interface RunFolderOutput {
  run: RunDirectory;
  /** The export's name: export.name, or the data folder's. */
  name: string;
}

/** prepare (1/4): the run's folder under runs.dir, new or (with resume) the one to continue. */
@injectable()
export class RunFolderStage implements Stage<RunFolderInput, RunFolderOutput> {
  readonly name = 'run-folder';

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  readonly run = async ({ dataDir, resolvedConfig, resume }: RunFolderInput): Promise<RunFolderOutput> => {
    const { config, logger } = this;
    const name = config.export.name || path.basename(path.resolve(dataDir));
    if (resume) {
      const run = openRunDirectory(config.runs.dir, resume);
      logger.info(`resuming run ${run.id}: ${run.dir}`);
      return { run, name };
    }
    const run = createRunDirectory(config.runs.dir, name);
    writeRunConfig(run, resolvedConfig ?? config);
    writeRunInfo(run, { dataDir: path.resolve(dataDir), startedAt: new Date().toISOString() });
    logger.info(`run ${run.id}: ${run.dir}`);
    return { run, name };
  };

  /** How to continue an interrupted run (--runs-dir only when it is not the default). */
  resumeHint(run: RunDirectory | undefined): string | undefined {
    if (!run) return undefined;
    const runsDir = this.config.runs.dir;
    return `Resume with: finetune train --resume ${run.id}${path.resolve(runsDir) === path.resolve('models/runs') ? '' : ` --runs-dir ${runsDir}`}`;
  }
}
