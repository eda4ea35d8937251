/**
 * The library API of finetune-pipeline: what the CLI calls, for scripts that fine-tune from
 * TypeScript. Each function loads the configuration as the CLI does (environment file, FINETUNE_*
 * variables, `settings` as flags) unless a resolved `config` is given, and returns what the command
 * prints with --json.
 */
import 'reflect-metadata';
import { loadConfig, type ResolvedConfig } from './config/load-config';
import { createContainer } from './container/container';
import { DoctorPipeline, type DoctorReport } from './doctor/doctor-pipeline';
import { silentLogger, type Logger } from './logger';
import { ClassifyPipeline, type EvaluationResult, type Prediction } from './pipeline/classify-pipeline';
import { RunPreparation } from './pipeline/prepare-run';
import { TrainPipeline, type TrainResult } from './pipeline/train-pipeline';
import type { Plan } from './policy/plan';
import { silentProgress, type Progress } from './progress';
import { ModelServer, type RunningServer } from './serve/model-server';

export { loadConfig, type ConfigSources, type ResolvedConfig } from './config/load-config';
export type { FinetuneConfig } from './config/schema';
export type { DoctorReport } from './doctor/doctor-pipeline';
export type { CheckResult, CheckStatus } from './doctor/check-result';
export { ConfigError, DataError, FinetuneError, RuntimeFailure, TrainingInterrupted, UsageError } from './errors';
export type { ExportMetadata } from './export/export-metadata';
export type { Logger } from './logger';
export type { EvaluationResult, Prediction } from './pipeline/classify-pipeline';
export type { TrainResult, TrainRunOptions } from './pipeline/train-pipeline';
export type { Plan } from './policy/plan';
export type { Progress, ProgressTask } from './progress';
export type { RunningServer } from './serve/model-server';

export interface LibraryOptions {
  /** Environment: configs/<env>.json over configs/default.json. Defaults to NODE_ENV's, as on the CLI. */
  env?: string;
  /** An extra JSON config file layered over the environment's. */
  configFile?: string;
  /** Settings by their CLI flag name, e.g. { epochs: 5, 'image-size': 96, out: './exports' }. */
  settings?: Record<string, string | number | boolean>;
  /** An already resolved configuration (then env, configFile and settings are not read). */
  config?: ResolvedConfig;
  /** Where log lines go. Defaults to nowhere. */
  logger?: Logger;
  /** Shows long steps as they go. Defaults to nothing. */
  progress?: Progress;
}

export interface PlanResult {
  plan: Plan;
  backend: { name: string; reason: string };
  skipped: { path: string; reason: string }[];
  timings: Record<string, number>;
}

function resolve(options: LibraryOptions): ResolvedConfig {
  if (options.config) return options.config;
  const flags = Object.fromEntries(Object.entries(options.settings ?? {}).map(([name, value]) => [name, String(value)]));
  return loadConfig({ env: options.env, configFile: options.configFile, flags });
}

function containerFor(options: LibraryOptions) {
  const resolved = resolve(options);
  return { resolved, container: createContainer(resolved.values, options.logger ?? silentLogger, options.progress ?? silentProgress) };
}

/** `finetune train`: checks the data, plans, extracts, trains, gates and exports a new version. */
export async function train(dataDir: string, options: LibraryOptions & { resume?: string; signal?: AbortSignal } = {}): Promise<TrainResult> {
  const { resolved, container } = containerFor(options);
  return container.get(TrainPipeline).run(dataDir, resolved, { resume: options.resume, signal: options.signal });
}

/** `finetune plan`: everything train decides, without training. */
export async function plan(dataDir: string, options: LibraryOptions = {}): Promise<PlanResult> {
  const prepared = await containerFor(options).container.get(RunPreparation).prepare(dataDir);
  prepared.base.dispose();
  return { plan: prepared.plan, backend: prepared.backend, skipped: prepared.dataset.skipped, timings: prepared.timings };
}

/** `finetune evaluate`: scores an export on a labelled folder. */
export async function evaluate(modelDir: string, dataDir: string, options: LibraryOptions = {}): Promise<EvaluationResult> {
  return containerFor(options).container.get(ClassifyPipeline).evaluate(modelDir, dataDir);
}

/** `finetune predict`: the `topK` most likely labels of each file. */
export async function predict(modelDir: string, files: string[], options: LibraryOptions & { topK?: number } = {}): Promise<Prediction[]> {
  return containerFor(options).container.get(ClassifyPipeline).predict(modelDir, files, options.topK ?? 3);
}

/** `finetune doctor`: the tuning guide's sanity checks. */
export async function doctor(dataDir: string, options: LibraryOptions = {}): Promise<DoctorReport> {
  return containerFor(options).container.get(DoctorPipeline).run(dataDir);
}

/** `finetune serve`: the HTTP model server over a model base path; close() stops it. */
export async function serve(modelBasePath: string, options: LibraryOptions = {}): Promise<RunningServer> {
  return containerFor(options).container.get(ModelServer).start(modelBasePath);
}
