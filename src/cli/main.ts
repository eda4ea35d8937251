import { Command, CommanderError } from 'commander';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type ResolvedConfig } from '../config/load-config';
import { createContainer } from '../container/container';
import { DoctorPipeline } from '../doctor/doctor-pipeline';
import { FinetuneError, RuntimeFailure, TrainingInterrupted, UsageError } from '../errors';
import { StderrLogger } from '../logger';
import { packageRoot } from '../package-root';
import { ClassifyPipeline } from '../pipeline/classify-pipeline';
import { RunPreparation } from '../pipeline/prepare-run';
import { TrainPipeline } from '../pipeline/train-pipeline';
import { summarizeRun } from '../report/run-summary';
import { openRunDirectory, readRunConfig, readRunInfo } from '../runs/run-directory';
import { ModelServer } from '../serve/model-server';
import { withoutSecrets } from '../service/job-config';
import { addConfigOptions } from './config-options';
import { formatHuman } from './format-human';
import { addServiceCommands } from './service-commands';
import { stderrOutput } from './stderr-output';

interface CommonOptions {
  env?: string;
  config?: string;
  json?: boolean;
}

function resolveConfig(options: CommonOptions, flags: Record<string, string>): ResolvedConfig {
  return loadConfig({ env: options.env, configFile: options.config, flags });
}

/** The pipeline's container, with progress on stderr as the command's output mode allows (none under --json). */
function containerWithOutput(resolved: ResolvedConfig, options: CommonOptions) {
  const output = stderrOutput({ json: options.json });
  return createContainer(resolved.values, output.logger, output.progress);
}

function print(result: unknown, options: CommonOptions, command: string): void {
  process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatHuman(command, result)}\n`);
}

function requireOption(value: string | undefined, flag: string, example: string): string {
  if (!value) throw new UsageError(`Missing ${flag}. Expected e.g. ${example}.`);
  return value;
}

/**
 * The configuration a run started with (its config.json), layered as a config file over its environment;
 * only --runs-dir (to find the run) is taken from the flags.
 */
function resumedConfig(options: CommonOptions, flags: Record<string, string>, runId: string): ResolvedConfig {
  const others = Object.keys(flags).filter((flag) => flag !== 'runs-dir');
  if (others.length > 0) {
    throw new UsageError(`Received --resume with ${others.map((flag) => `--${flag}`).join(', ')}. A resumed run keeps the configuration it started with; give only --resume RUN_ID [--runs-dir DIR] [--data DIR].`);
  }
  const runsDir = resolveConfig(options, flags).values.runs.dir;
  const recorded = readRunConfig(openRunDirectory(runsDir, runId));
  const layer = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'finetune-resume-')), 'config.json');
  fs.writeFileSync(layer, JSON.stringify(recorded.values));
  try {
    return loadConfig({ env: recorded.env ?? options.env, configFile: layer, environment: {}, flags: { 'runs-dir': runsDir } });
  } finally {
    fs.rmSync(path.dirname(layer), { recursive: true, force: true });
  }
}

/** What evaluate and predict read: the backend, decoding, and the inference batch size. */
const classifyScope = ['backend', 'runtime', 'preprocess.maxInputPixels', 'preprocess.concurrency', 'train.batchSize'];

/** Thin shell: flags -> configuration -> the programmatic pipeline -> stdout. */
export function buildProgram(): Command {
  const version = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version;
  const program = new Command('finetune')
    .description('Turn a folder of labelled images into an exported image classifier by transfer learning.')
    .version(version)
    .showHelpAfterError()
    .exitOverride();

  const train = program.command('train').description('check the data, plan, extract frozen features, train the head, export a versioned model');
  train.option('--data <dir>', 'folder with one subfolder per class, or train/ val/ [test/] subfolders');
  train.option('--resume <run-id>', "continue an interrupted run from its checkpoints (its config.json and data folder; --data overrides the folder); looked up under --runs-dir");
  const trainFlags = addConfigOptions(train, ['backend', 'runtime', 'data', 'preprocess', 'base', 'policy', 'train', 'augment', 'runs', 'export']);
  train.action(async (options: CommonOptions & { data?: string; resume?: string }) => {
    const resolved = options.resume ? resumedConfig(options, trainFlags(), options.resume) : resolveConfig(options, trainFlags());
    const data = options.resume
      ? (options.data ?? readRunInfo(openRunDirectory(resolved.values.runs.dir, options.resume)).dataDir)
      : requireOption(options.data, '--data DIR', 'finetune train --data ./photos');
    const container = containerWithOutput(resolved, options);
    // Ctrl-C stops training at the next step and keeps the last checkpoint; a second Ctrl-C kills at once.
    const interrupt = new AbortController();
    const onInterrupt = () => {
      process.stderr.write('\ninterrupt: stopping after the current step (Ctrl-C again to kill)\n');
      interrupt.abort();
    };
    process.once('SIGINT', onInterrupt);
    try {
      const result = await container
        .get(TrainPipeline)
        .run(data, { env: resolved.env, values: resolved.values, origins: resolved.origins }, { resume: options.resume, signal: interrupt.signal });
      print(result, options, 'train');
    } finally {
      process.removeListener('SIGINT', onInterrupt);
    }
  });

  const plan = program.command('plan').description('show what train would decide (freeze boundary, dataset size, reasons) without training');
  plan.option('--data <dir>', 'folder with one subfolder per class');
  const planFlags = addConfigOptions(plan, ['backend', 'runtime', 'data', 'preprocess', 'base', 'policy', 'runs', 'train.batchSize', 'train.hiddenUnits', 'train.folds', 'train.crossValidateBelow', 'augment.views']);
  plan.action(async (options: CommonOptions & { data?: string }) => {
    const data = requireOption(options.data, '--data DIR', 'finetune plan --data ./photos');
    const resolved = resolveConfig(options, planFlags());
    const container = containerWithOutput(resolved, options);
    const prepared = await container.get(RunPreparation).prepare(data);
    prepared.base.dispose();
    print({ plan: prepared.plan, backend: prepared.backend, skipped: prepared.dataset.skipped, warnings: prepared.dataset.warnings, timings: prepared.timings }, options, 'plan');
  });

  const doctor = program.command('doctor').description("run the tuning guide's sanity checks on a data folder (data, initial loss, ten-sample overfit, learning-rate range, short run); exits 1 when a check fails");
  doctor.option('--data <dir>', 'folder with one subfolder per class, or train/ val/ [test/] subfolders');
  const doctorFlags = addConfigOptions(doctor, ['backend', 'runtime', 'data', 'preprocess', 'base', 'policy', 'train']);
  doctor.action(async (options: CommonOptions & { data?: string }) => {
    const data = requireOption(options.data, '--data DIR', 'finetune doctor --data ./photos');
    const resolved = resolveConfig(options, doctorFlags());
    const container = containerWithOutput(resolved, options);
    const report = await container.get(DoctorPipeline).run(data);
    print(report, options, 'doctor');
    const failed = report.checks.filter((check) => check.status === 'fail');
    if (failed.length > 0) throw new RuntimeFailure(`${failed.length} doctor check${failed.length > 1 ? 's' : ''} failed: ${failed.map((check) => check.name).join(', ')}`);
  });

  const evaluate = program.command('evaluate').description('score an export on a labelled folder');
  evaluate.option('--model <dir>', 'export folder <out>/<name>/<version> (or <out>/<name> for the newest)');
  evaluate.option('--data <dir>', 'labelled folder: DIR/<class>/* (or its val/ and test/ splits)');
  const evaluateFlags = addConfigOptions(evaluate, classifyScope);
  evaluate.action(async (options: CommonOptions & { model?: string; data?: string }) => {
    const model = requireOption(options.model, '--model EXPORT_DIR', 'finetune evaluate --model models/exports/photos/1 --data ./held-out');
    const data = requireOption(options.data, '--data DIR', 'finetune evaluate --model models/exports/photos/1 --data ./held-out');
    const resolved = resolveConfig(options, evaluateFlags());
    const container = createContainer(resolved.values, new StderrLogger());
    print(await container.get(ClassifyPipeline).evaluate(model, data), options, 'evaluate');
  });

  const predict = program.command('predict').description('classify image files with an export');
  predict.argument('<files...>', 'image files');
  predict.option('--model <dir>', 'export folder <out>/<name>/<version> (or <out>/<name> for the newest)');
  predict.option('--top-k <k>', 'labels per file', '3');
  const predictFlags = addConfigOptions(predict, classifyScope);
  predict.action(async (files: string[], options: CommonOptions & { model?: string; topK: string }) => {
    const model = requireOption(options.model, '--model EXPORT_DIR', 'finetune predict --model models/exports/photos/1 cat.jpg');
    const topK = Number(options.topK);
    if (!Number.isInteger(topK) || topK < 1) throw new UsageError(`Received --top-k ${options.topK}. Expected a positive integer.`);
    const resolved = resolveConfig(options, predictFlags());
    const container = createContainer(resolved.values, new StderrLogger());
    print(await container.get(ClassifyPipeline).predict(model, files, topK), options, 'predict');
  });

  const report = program.command('report').description("a training run's report: its path and a summary (best validation accuracy, epochs, plan, per-class F1)");
  report.argument('<run>', 'run id (a folder under runs.dir, e.g. models/runs/<run-id>) or the path of a run folder');
  report.option('--render', "render report.html again from the run folder's report-data.json");
  const reportFlags = addConfigOptions(report, ['runs']);
  report.action(async (run: string, options: CommonOptions & { render?: boolean }) => {
    const resolved = resolveConfig(options, reportFlags());
    print(await summarizeRun(resolved.values.runs.dir, run, { render: options.render }), options, 'report');
  });

  const serve = program.command('serve').description('serve the newest version under a model base path over HTTP, TF Serving-style (see README: Serving)');
  serve.option('--model-base-path <dir>', 'folder <out>/<name> holding numbered versions; new versions are picked up as they appear');
  const serveFlags = addConfigOptions(serve, ['backend', 'runtime', 'serve', 'preprocess.maxInputPixels']);
  serve.action(async (options: CommonOptions & { modelBasePath?: string }) => {
    const basePath = requireOption(options.modelBasePath, '--model-base-path DIR', 'finetune serve --model-base-path models/exports/photos');
    const resolved = resolveConfig(options, serveFlags());
    const container = createContainer(resolved.values, new StderrLogger());
    const server = await container.get(ModelServer).start(basePath);
    const stopped = new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        process.stderr.write(`${signal}: finishing requests in flight, then stopping\n`);
        server.close().then(resolve, resolve);
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    if (options.json) process.stdout.write(`${JSON.stringify({ url: server.url, port: server.port, model: server.modelName })}\n`);
    await stopped;
  });

  addServiceCommands(program, print);

  const config = program.command('config').description('configuration');
  const configPrint = config.command('print').description('the resolved configuration and where each value came from');
  const configFlags = addConfigOptions(configPrint, 'all');
  configPrint.action(async (options: CommonOptions) => {
    print(withoutSecrets(resolveConfig(options, configFlags())), options, 'config print');
  });
  return program;
}

/** The one error boundary: typed errors become exit codes, results go to stdout, the rest to stderr. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      return 2;
    }
    if (error instanceof TrainingInterrupted) {
      process.stderr.write(`interrupted: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof FinetuneError) {
      process.stderr.write(`error: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`error: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}
