import * as tf from '@tensorflow/tfjs';
import { inject, injectable } from 'inversify';
import { FinetuneConfig } from '../config/schema';
import { FeatureCache } from '../features/feature-cache';
import { probeKeyParts } from '../features/feature-key-parts';
import { createFrozenRunner, createProbeRunner } from '../features/frozen-runner';
import { Logger } from '../logger';
import type { Pooling } from '../models/grid-pooling';
import { extractDatasetFeatures, type DatasetFeatures } from '../pipeline/extract-dataset-features';
import type { Stage, StageServices } from '../pipeline/stage';
import { crossValidates, selectionFolds, selectionMatrix } from '../pipeline/train-by-selection';
import { ImageDecoder } from '../preprocess/image-decoder';
import { Progress } from '../progress';
import { alternativeDepth } from '../select/alternative-depth';
import { defaultStrengths } from '../select/cross-validated-logistic';
import type { LogisticAside } from '../select/logistic-pool';
import type { FeatureMatrix } from '../select/logistic-regression';
import { readoutName, selectFeatures, type FeatureReadout } from '../select/select-features';
import { foldCount } from '../select/stratified-folds';
import type { LabelledData } from '../train/fit';
import type { BaseOutput } from './base-stage';
import type { ExtractOutput } from './extract-stage';
import { extractionOptions } from './extraction-options';
import type { PlanOutput } from './plan-stage';
import type { ScanOutput } from './scan-stage';
import { labelledImages } from './selection-plan-stage';

export type SelectFeaturesInput = Pick<BaseOutput, 'base' | 'input'> & Pick<ScanOutput, 'dataset' | 'candidateLayers'> & PlanOutput;

export interface SelectFeaturesOutput extends ExtractOutput {
  /** The plan with `featureSelection`, and the chosen cut and pooling. */
  plan: PlanOutput['plan'];
  /** The chosen readout's cross-validated logistic regression, its refit maybe still running (select awaits it). */
  baseline: LogisticAside;
}

/** Columns of one readout among the probe's features: every depth averaged, then every depth's 2x2 grid. */
type Columns = { offset: number; width: number };

/**
 * select-features: on small data, the plan's readouts (its cut and the similarity measurement's
 * best-scoring other depth, each averaged and over the 2x2 grid) are read from the measurement's
 * probe features (cached: one pass over the images for every depth and both poolings), the logistic
 * regression is cross-validated on each, and the head reads the readout that scored highest. It replaces extract: the chosen readout's features are the probe's columns.
 */
@injectable()
export class SelectFeaturesStage implements Stage<SelectFeaturesInput, SelectFeaturesOutput> {
  readonly name = 'select-features';
  readonly timing = 'select_features_s';

  constructor(
    @inject(FinetuneConfig) private readonly config: FinetuneConfig,
    @inject(Logger) private readonly logger: Logger,
    @inject(ImageDecoder) private readonly decoder: ImageDecoder,
    @inject(FeatureCache) private readonly cache: FeatureCache,
    @inject(Progress) private readonly progress: Progress,
  ) {}

  readonly applies = ({ base, dataset, plan, candidateLayers }: SelectFeaturesInput) =>
    crossValidates(this.config, plan, labelledImages(dataset)) &&
    base.network.kind === 'layers' &&
    plan.similarity.scores.length > 1 &&
    candidateLayers.includes(plan.cutLayer);

  readonly run = async (input: SelectFeaturesInput, services: StageServices): Promise<SelectFeaturesOutput> => {
    const { plan, dataset } = input;
    const probe = await this.extractProbe(input, services);
    const readouts = this.readouts(input, probe.gridWidths.length > 0);
    this.logger.info(`features: cross-validating the logistic regression on ${readouts.map(readoutName).join('; ')}`);
    const all = selectionMatrix(probe.features);
    const columns = readouts.map((readout) => columnsOf(readout, input.candidateLayers, probe.widths, probe.gridWidths));
    const numClasses = dataset.labels.length;
    const foldOf = selectionFolds(this.config, all.labels, numClasses);
    // Minutes on many classes or near policy.largeMinImages: say how far it is.
    const task = this.progress.start('cross-validation', readouts.length * foldCount(foldOf), 'fold paths');
    const { selection, chosen, baseline } = await selectFeatures({
      candidates: readouts.map((readout, i) => ({ ...readout, features: columnsOfMatrix(all.features, columns[i]) })),
      labels: all.labels,
      numClasses,
      foldOf,
      strengths: defaultStrengths,
      onFold: (done) => task.update(done),
    }).finally(() => task.stop());
    services.own({ dispose: () => void baseline.stop() });
    this.logger.info(`  ${selection.reason}`);
    const { layer, pooling } = readouts[chosen];
    const frozen = createFrozenRunner(input.base, layer, input.input.size, { pooling, compiled: this.config.runtime.compiledForward });
    services.own(frozen);
    const features = sliceFeatures(probe.features, columns[chosen]);
    services.own({ dispose: () => features.tensors.forEach((t) => t.dispose()) });
    const policy = layer === input.base.lastFeatureLayer ? ('head' as const) : ('intermediate' as const);
    const same = layer === plan.cutLayer && pooling === plan.pooling;
    const changed = same ? {} : { policy, cutLayer: layer, pooling, reasons: [...plan.reasons, selection.reason] };
    return { plan: { ...plan, ...changed, featureSelection: selection }, frozen, features, baseline };
  };

  /** The plan's readout first, then its other pooling, then the best-scoring other depth both ways; grid only where every probed map allows it. */
  private readouts({ plan }: SelectFeaturesInput, grid: boolean): FeatureReadout[] {
    const other = alternativeDepth(plan.similarity, plan.cutLayer);
    const poolings = [plan.pooling, plan.pooling === 'grid' ? 'average' : 'grid'].filter((pooling): pooling is Pooling => pooling === 'average' || grid);
    return [plan.cutLayer, ...(other ? [other] : [])].flatMap((layer) => poolings.map((pooling) => ({ layer, pooling })));
  }

  /** Every image's probe features (the measurement's runner and cache key: its sample is already cached). */
  private async extractProbe({ base, input, dataset, candidateLayers }: SelectFeaturesInput, services: StageServices) {
    const runner = createProbeRunner(base, candidateLayers, input.size, { compiled: this.config.runtime.compiledForward });
    services.own(runner);
    const keyParts = probeKeyParts(candidateLayers, runner.gridWidths.length > 0, base.sha256, input.preprocessing);
    const features = await extractDatasetFeatures(runner, dataset, {
      ...extractionOptions(this.config, { decoder: this.decoder, cache: this.cache, logger: this.logger }, input, keyParts),
      augment: { ...this.config.augment, seed: this.config.train.seed },
    });
    services.own({ dispose: () => features.tensors.forEach((t) => t.dispose()) });
    return { features, widths: runner.widths, gridWidths: runner.gridWidths };
  }
}

function columnsOf({ layer, pooling }: FeatureReadout, layers: string[], widths: number[], gridWidths: number[]): Columns {
  const i = layers.indexOf(layer);
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  if (pooling === 'average') return { offset: sum(widths.slice(0, i)), width: widths[i] };
  return { offset: sum(widths) + sum(gridWidths.slice(0, i)), width: gridWidths[i] };
}

function columnsOfMatrix(matrix: FeatureMatrix, { offset, width }: Columns): FeatureMatrix {
  const data = new Float64Array(matrix.rows * width);
  for (let r = 0; r < matrix.rows; r++) data.set(matrix.data.subarray(r * matrix.cols + offset, r * matrix.cols + offset + width), r * width);
  return { data, rows: matrix.rows, cols: width };
}

/** Every split's features restricted to one readout's columns (new tensors, listed in `tensors`). */
function sliceFeatures(features: DatasetFeatures, { offset, width }: Columns): DatasetFeatures {
  const tensors: tf.Tensor[] = [];
  const slice = (part: LabelledData | undefined): LabelledData | undefined => {
    if (!part) return undefined;
    const x = tf.slice(part.x, [0, offset], [-1, width]);
    tensors.push(x);
    return { ...part, x };
  };
  return { train: slice(features.train)!, val: slice(features.val), test: slice(features.test), computed: features.computed, fromCache: features.fromCache, tensors };
}

/** `stage` (extract), skipped when select-features already provided the frozen part and the features. */
export function unlessFeaturesSelected<In extends Pick<PlanOutput, 'plan'>, Out>(stage: Stage<In, Out>): Stage<In, Out> {
  return {
    name: stage.name,
    timing: stage.timing,
    clock: stage.clock,
    applies: (input) => !input.plan.featureSelection && (stage.applies?.(input) ?? true),
    run: (input, services) => stage.run(input, services),
    rates: stage.rates,
    onFailure: stage.onFailure,
  };
}
