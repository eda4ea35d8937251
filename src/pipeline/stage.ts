import { TrainingInterrupted } from '../errors';
import type { Logger } from '../logger';

/** What the runner gives every stage besides its input. */
export interface StageServices {
  /** Aborting (Ctrl-C) asks long stages to stop; they throw TrainingInterrupted. */
  signal?: AbortSignal;
  /** Registers something the job releases when it ends (after a failure, or when the caller disposes the job), last first. */
  own(resource: { dispose(): void }): void;
}

/**
 * One step of a job: reads the fields of the job's context it names in `In`, returns new fields
 * (`Out`) that the runner adds to the context. A stage never calls another stage.
 */
export interface Stage<In, Out> {
  readonly name: string;
  /** Key of `timings` for the stage's seconds (none: untimed). */
  readonly timing?: string;
  /** 'job' records the seconds since the job started instead of the stage's own (total_s). */
  readonly clock?: 'stage' | 'job';
  /** False: the stage is skipped and its (optional) fields stay absent. Defaults to true. */
  readonly applies?: (input: In) => boolean;
  readonly run: (input: In, services: StageServices) => Promise<Out>;
  /** Rates derived from the output and the stage's seconds (e.g. extract_img_per_s), added to `timings`. */
  readonly rates?: (output: Out, seconds: number) => Record<string, number>;
  /** Called when any stage of the job fails, with what the context held then (e.g. to write the failed report). */
  readonly onFailure?: (context: Partial<In>, error: Error) => Promise<void>;
}

/** Seconds per stage, in the order they ran; the runner writes it, stages (the report) read it. */
export type Timings = Record<string, number>;

/** What every job starts from. */
export interface JobStart {
  timings: Timings;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the list is typed through StageList.then
type AnyStage = Stage<any, any>;

/**
 * An ordered list of stages whose context type grows with each: `then(stage)` compiles only when
 * the context so far holds every field the stage reads, so a stage can be inserted anywhere its
 * inputs exist without touching the others.
 */
export class StageList<Context> {
  private constructor(readonly stages: readonly AnyStage[]) {}

  static start<Initial extends JobStart>(): StageList<Initial> {
    return new StageList<Initial>([]);
  }

  then<Out>(stage: Stage<Context, Out>): StageList<Context & Out> {
    return new StageList<Context & Out>([...this.stages, stage]);
  }
}

/** A finished job: its context, and dispose() to release what its stages own. */
export interface Job<Context> {
  context: Context;
  dispose(): void;
}

export interface RunStagesOptions {
  logger: Logger;
  signal?: AbortSignal;
  /** Appended to a TrainingInterrupted's message: how to resume (from the context so far). */
  resumeHint?: (context: Record<string, unknown>) => string | undefined;
}

const seconds = (since: number) => (Date.now() - since) / 1000;

/**
 * The one runner: runs the stages in order, records each one's seconds in `timings`, and on a
 * failure lets every stage report it (e.g. the failed run report), adds the resume hint to an
 * interruption, and releases what the stages owned.
 */
export async function runStages<Initial extends JobStart, Context>(list: StageList<Context>, initial: Initial, options: RunStagesOptions): Promise<Job<Context>> {
  const jobStarted = Date.now();
  const owned: { dispose(): void }[] = [];
  const dispose = () => owned.splice(0).reverse().forEach((resource) => resource.dispose());
  const services: StageServices = { signal: options.signal, own: (resource) => owned.push(resource) };
  let context = { ...initial } as Record<string, unknown> & JobStart;
  try {
    for (const stage of list.stages) {
      if (stage.applies && !stage.applies(context)) continue;
      const started = Date.now();
      const output = await stage.run(context, services);
      context = { ...context, ...output };
      const elapsed = seconds(stage.clock === 'job' ? jobStarted : started);
      if (stage.timing) context.timings[stage.timing] = elapsed;
      Object.assign(context.timings, stage.rates?.(output, elapsed));
    }
  } catch (caught) {
    let error = caught as Error;
    const hint = error instanceof TrainingInterrupted ? options.resumeHint?.(context) : undefined;
    if (hint) error = new TrainingInterrupted(`${error.message} ${hint}`);
    for (const stage of list.stages) await stage.onFailure?.(context, error).catch((reportError: Error) => options.logger.warn(reportError.message));
    dispose();
    throw error;
  }
  return { context: context as Context, dispose };
}

/** The job clock as a stage: total_s, the seconds since the job started. */
export const totalTime: Stage<JobStart, object> = { name: 'total', timing: 'total_s', clock: 'job', run: async () => ({}) };
