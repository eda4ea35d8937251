import type * as tf from '@tensorflow/tfjs';
import type { BaseModel } from '../models/base-model';
import { ConfigError } from '../errors';
import type { Pooling } from '../models/grid-pooling';
import { blockNumbers, blockOf, boundaryBelowTopBlocks } from '../models/network-surgery';
import { fineTuneGateRule, type FineTuneGate } from '../train/fine-tune-gate';
import type { FeatureSelection } from '../select/select-features';
import type { Similarity } from './similarity';
import type { BaselineComparison } from '../pipeline/held-out-baseline';
import type { BaselineRefit } from '../pipeline/refit-baseline';
import type { SelectionSummary } from '../select/selection-summary';

export type PolicyName = 'auto' | 'head' | 'intermediate' | 'top' | 'deep';

/** Everything `train` decides before training, with the reasons in sentences. */
export interface Plan {
  policy: Exclude<PolicyName, 'auto'>;
  requestedPolicy: PolicyName;
  datasetSize: { category: 'small' | 'large'; total: number; perClass: Record<string, number>; smallestClass: number };
  similarity: Similarity;
  quadrant: string;
  /** Layer whose output is cached: the freeze boundary. Everything up to it is frozen. */
  cutLayer: string;
  /** When blocks above the boundary are fine-tuned: the last layer they run to. */
  fineTune?: FineTune;
  /** How the head pools the features it reads. */
  pooling: Pooling;
  /** Layers that learn. */
  trainableLayers: string[];
  reasons: string[];
  /** Small data, after training: the candidates cross-validation tried, the winner and why. */
  selection?: SelectionSummary;
  /** Large data, after training: the trained head against the logistic regression baseline on the validation split. */
  baseline?: BaselineComparison;
  /** Small data: the depths and poolings cross-validation compared (the logistic regression on each), and the one chosen. */
  featureSelection?: FeatureSelection;
}

/**
 * The fine-tuned part of a plan: `blocks` blocks ending at `until`, which is the top of the base
 * or (to: peak) the depth where features transfer best, the layers above it cut off.
 */
export interface FineTune {
  until: string;
  blocks: number;
  to: 'peak' | 'top';
  /** After training: whether the fine-tuning phase beat the head-only model on validation, with the numbers. */
  gate?: FineTuneGate;
}

export interface PlanInputs {
  base: BaseModel;
  requestedPolicy: PolicyName;
  /** Cut layer forced by configuration (empty for the base's recommendation). */
  cutLayer: string;
  /** Blocks fine-tuned by the top and deep policies. */
  topBlocks: number;
  deepBlocks: number;
  /** Where a deep plan ends the fine-tuned network: at the transfer peak (default) or the top. */
  fineTuneTo?: 'peak' | 'top';
  perClass: Record<string, number>;
  /** A dataset is large when it has at least this many training images... */
  largeMinImages: number;
  /** ...and its smallest class at least this many. */
  largeMinImagesPerClass: number;
  headLayers: string[];
  /** Pooling forced by configuration; auto (the default) decides from the cut and the class sizes. */
  requestedPooling?: Pooling | 'auto';
  /** Auto pools over a grid only when the smallest class has at least this many training images. Defaults to 20. */
  gridMinImagesPerClass?: number;
  /** Measured similarity; auto decides from it and the dataset size. */
  similarity?: Similarity;
}

export interface FreezeBoundary {
  policy: Exclude<PolicyName, 'auto'>;
  cutLayer: string;
  fineTune?: FineTune;
  pooling: Pooling;
  trainableLayers: string[];
  reasons: string[];
}

type BoundaryInputs = Pick<PlanInputs, 'base' | 'requestedPolicy' | 'cutLayer' | 'topBlocks' | 'deepBlocks' | 'fineTuneTo' | 'headLayers' | 'requestedPooling' | 'gridMinImagesPerClass'> & {
  size?: 'small' | 'large';
  /** Training images in the smallest class, once the data are read. */
  smallestClass?: number;
  similarity?: Similarity;
};

/** Blocks from the one holding `layer` up to the top: what must relearn when features stop transferring there. */
function blocksFrom(model: tf.LayersModel, layer: string): number | undefined {
  const block = blockOf(layer);
  if (block === undefined) return undefined;
  return blockNumbers(model).filter((n) => n >= block).length;
}

function layersWithWeightsAfter(model: tf.LayersModel, boundary: string, until: string): string[] {
  const start = model.layers.findIndex((layer) => layer.name === boundary) + 1;
  const end = model.layers.findIndex((layer) => layer.name === until);
  // Every layer with weights: the fine-tuned segment unfreezes the ones its authors had frozen.
  return model.layers.slice(start, end + 1).filter((layer) => layer.weights.length > 0).map((layer) => layer.name);
}

/** What the policy decided before the boundary is placed: deep plans also how many blocks, and where transfer peaks. */
interface PolicyChoice {
  policy: Exclude<PolicyName, 'auto'>;
  /** Intermediate's cut at the measured transfer peak. */
  measuredCut?: string;
  deepBlocks: number;
  /** Where a deep plan's fine-tuned network ends when transfer peaks below the top. */
  peak?: string;
}

/**
 * Picks the freeze boundary. Until similarity is measured (the 2x2 matrix), auto keeps the
 * whole base frozen and cuts where the base is known to transfer best.
 */
export function chooseFreezeBoundary(inputs: BoundaryInputs): FreezeBoundary {
  const { base } = inputs;
  const reasons: string[] = [];
  const choice = choosePolicy(inputs, reasons);
  if ((choice.policy === 'top' || choice.policy === 'deep') && base.network.kind === 'graph') {
    reasons.push(`The base is a GraphModel, which tfjs cannot train, so ${choice.policy} becomes head: every plan is limited to frozen features.`);
    choice.policy = 'head';
  }
  if (choice.policy === 'top' || choice.policy === 'deep') return fineTunedBoundary(inputs, choice, reasons);
  const cutLayer = frozenCut(inputs, choice, reasons);
  if (base.network.kind === 'graph' && !reasons.some((r) => r.includes('GraphModel'))) {
    reasons.push('The base is a GraphModel, which tfjs cannot train: every plan is limited to frozen features.');
  }
  return { policy: choice.policy, cutLayer, pooling: choosePooling(inputs, cutLayer, undefined, reasons), trainableLayers: inputs.headLayers, reasons };
}

/** The 2x2 matrix when similarity was measured under auto; otherwise auto's frozen default, or the forced policy. */
function choosePolicy(inputs: BoundaryInputs, reasons: string[]): PolicyChoice {
  const { base, size, similarity } = inputs;
  if (inputs.requestedPolicy === 'auto' && size && similarity && similarity.category !== 'not-measured') {
    const similar = similarity.category === 'similar';
    const policy = size === 'small' ? (similar ? 'head' : 'intermediate') : similar ? 'top' : 'deep';
    reasons.push(similarity.reason);
    reasons.push(
      {
        head: 'A small dataset similar to the pretraining data: the whole base stays frozen and a head learns on its last features.',
        intermediate: `A small dataset that differs: the base stays frozen and the head reads ${similarity.best}, where features transfer best; the layers above are cut off.`,
        top: 'A large dataset similar to the pretraining data: the top blocks are fine-tuned, slower than the head.',
        deep: 'A large dataset that differs: blocks are fine-tuned down to where the features stop transferring.',
      }[policy],
    );
    if (policy === 'deep' && base.network.kind === 'layers') return deepExtent(inputs, base.network.model, similarity.best!, reasons);
    return { policy, measuredCut: policy === 'intermediate' ? similarity.best : undefined, deepBlocks: inputs.deepBlocks };
  }
  if (inputs.requestedPolicy === 'auto') {
    reasons.push('Similarity was not measured, so auto keeps the base frozen and trains a head on the features known to transfer best.');
    return { policy: base.recommendedCut || inputs.cutLayer ? 'intermediate' : 'head', deepBlocks: inputs.deepBlocks };
  }
  reasons.push(`The policy ${inputs.requestedPolicy} was forced by configuration.`);
  return { policy: inputs.requestedPolicy, deepBlocks: inputs.deepBlocks };
}

/**
 * Deep: as many blocks as transfer needs (between policy.topBlocks and the floor policy.deepBlocks),
 * ending at the transfer peak when it lies below the top; intermediate when the peak is below the floor.
 */
function deepExtent(inputs: BoundaryInputs, model: tf.LayersModel, best: string, reasons: string[]): PolicyChoice {
  const needed = blocksFrom(model, best) ?? inputs.topBlocks;
  const deepBlocks = Math.min(Math.max(needed, inputs.topBlocks), inputs.deepBlocks);
  const peakBlock = blockOf(best);
  if (inputs.fineTuneTo === 'top' || best === inputs.base.lastFeatureLayer || peakBlock === undefined) {
    if (needed > inputs.deepBlocks) reasons.push(`Transfer stops ${needed} blocks from the top; the floor policy.deepBlocks allows ${inputs.deepBlocks}.`);
    return { policy: 'deep', deepBlocks };
  }
  // The same number of blocks unfreezes, ending at the peak, never below the floor policy.deepBlocks sets.
  const all = blockNumbers(model);
  const floor = all[Math.max(all.length - inputs.deepBlocks, 0)];
  const belowPeak = all.filter((n) => n >= floor && n <= peakBlock).length;
  if (belowPeak > 0) return { policy: 'deep', deepBlocks: Math.min(deepBlocks, belowPeak), peak: best };
  reasons.push(
    `Transfer peaks at ${best}, below the floor of policy.deepBlocks=${inputs.deepBlocks} (block_${floor}): nothing there may unfreeze, ` +
      `so the base stays frozen and the head reads ${best}, as under intermediate.`,
  );
  return { policy: 'intermediate', measuredCut: best, deepBlocks };
}

/** Top and deep: the blocks fine-tuned, the boundary below them, and what trains. */
function fineTunedBoundary(inputs: BoundaryInputs, { policy, deepBlocks, peak }: PolicyChoice, reasons: string[]): FreezeBoundary {
  const { base } = inputs;
  const model = (base.network as { model: tf.LayersModel }).model;
  const blocks = policy === 'top' ? inputs.topBlocks : deepBlocks;
  const { boundary, firstBlock } = boundaryBelowTopBlocks(model, blocks, peak === undefined ? undefined : blockOf(peak));
  const until = peak ?? base.lastFeatureLayer;
  if (peak) {
    reasons.push(
      `Transfer peaks at ${peak}, below the top (${base.lastFeatureLayer}): the fine-tuned network ends there and the layers above are cut off ` +
        '(as under intermediate), instead of fine-tuning towards a top whose features transfer worse.',
    );
  }
  reasons.push(
    `${peak ? 'The' : 'The top'} ${blocks} blocks (block_${firstBlock} up to ${until}) are fine-tuned at a lower rate than the head, ` +
      `on activations of ${boundary} cached once per image; everything up to ${boundary} stays frozen in inference mode.`,
  );
  reasons.push(fineTuneGateRule);
  const fineTune: FineTune = { until, blocks, to: peak ? 'peak' : 'top' };
  return {
    policy,
    cutLayer: boundary,
    fineTune,
    pooling: choosePooling(inputs, boundary, fineTune, reasons),
    trainableLayers: [...layersWithWeightsAfter(model, boundary, until), ...inputs.headLayers],
    reasons,
  };
}

/** Head and intermediate: the layer the head reads (measured, configured, the base's recommendation, or its last features). */
function frozenCut(inputs: BoundaryInputs, { policy, measuredCut }: PolicyChoice, reasons: string[]): string {
  const { base } = inputs;
  if (policy === 'head') {
    reasons.push(`The head reads the last feature map of the base (${base.lastFeatureLayer}), before its original classifier.`);
    return base.lastFeatureLayer;
  }
  if (measuredCut) return measuredCut;
  if (inputs.cutLayer) {
    reasons.push(`The head reads ${inputs.cutLayer}, the cut layer set in configuration (policy.cutLayer).`);
    return inputs.cutLayer;
  }
  if (base.recommendedCut) {
    reasons.push(`The head reads ${base.recommendedCut.layer}: ${base.recommendedCut.reason}. Layers after it are cut off, so the export is smaller and faster.`);
    return base.recommendedCut.layer;
  }
  reasons.push(`The base names no better intermediate layer, so the head reads its last feature map (${base.lastFeatureLayer}).`);
  return base.lastFeatureLayer;
}

/** The grid must beat whole-image pooling by this much probe accuracy to earn its four times the features. */
const gridAdvantage = 0.01;

/**
 * Global average pooling where the base's own classifier pooled (its last features, and fine-tuned
 * tops, which keep the base's structure). At an intermediate cut features describe parts, and on
 * aligned images (Fashion-MNIST) where they appear tells classes apart: a 2x2 grid gained 2 points
 * there, but lost 6 on natural photos. So auto takes the grid only when the similarity probe
 * measured it better at the cut, and never for tiny classes, where four times the features overfit.
 */
function choosePooling(inputs: BoundaryInputs, boundary: string, fineTune: FineTune | undefined, reasons: string[]): Pooling {
  const requested = inputs.requestedPooling ?? 'auto';
  const graph = inputs.base.network.kind === 'graph';
  // A network cut at the transfer peak is read there like intermediate's, fine-tuned or not.
  const gridPossible = !graph && (!fineTune || fineTune.to === 'peak');
  const cutLayer = fineTune?.until ?? boundary;
  if (requested === 'grid' && !gridPossible) {
    throw new ConfigError(
      `Received policy.pooling=grid with ${graph ? `the GraphModel base ${inputs.base.id}` : 'a plan that fine-tunes up to the top'}. ` +
        'Grid pooling needs features of a LayersModel base below its top (policy head, intermediate, or deep ending at the transfer peak). Use --pooling auto or average.',
    );
  }
  if (requested !== 'auto') {
    reasons.push(`The head pools features ${requested === 'grid' ? 'over a 2x2 grid' : 'over the whole image'}, as configured (policy.pooling).`);
    return requested;
  }
  if (!gridPossible || cutLayer === inputs.base.lastFeatureLayer) return 'average';
  const measured = inputs.similarity?.pooling?.layer === cutLayer ? inputs.similarity.pooling : undefined;
  if (!measured) return 'average';
  const minimum = inputs.gridMinImagesPerClass ?? 20;
  const scores = `3-fold linear-probe accuracy at ${cutLayer}: 2x2 grid ${measured.grid.toFixed(3)}, whole image ${measured.average.toFixed(3)}`;
  if (inputs.smallestClass !== undefined && inputs.smallestClass < minimum) {
    reasons.push(
      `The head averages ${cutLayer} over the whole image: with ${inputs.smallestClass} images in the smallest class (fewer than policy.gridMinImagesPerClass=${minimum}), four times the features of a 2x2 grid would overfit.`,
    );
    return 'average';
  }
  if (measured.grid >= measured.average + gridAdvantage) {
    reasons.push(`Where features appear matters in these images (${scores}): the head reads ${cutLayer} averaged over each quarter of the image.`);
    return 'grid';
  }
  reasons.push(`The head averages ${cutLayer} over the whole image: a 2x2 grid did not measure better (${scores}).`);
  return 'average';
}

/** Large: at least `largeMinImages` training images and `largeMinImagesPerClass` in every class. */
export function datasetSize(perClass: Record<string, number>, thresholds: Pick<PlanInputs, 'largeMinImages' | 'largeMinImagesPerClass'>) {
  const counts = Object.values(perClass);
  const total = counts.reduce((a, b) => a + b, 0);
  const smallestClass = Math.min(...counts);
  const category: 'small' | 'large' = total >= thresholds.largeMinImages && smallestClass >= thresholds.largeMinImagesPerClass ? 'large' : 'small';
  return { category, total, smallestClass };
}

/** The plan: dataset size against the thresholds, and the freeze boundary. */
export function makePlan(inputs: PlanInputs): Plan {
  const { category, total, smallestClass } = datasetSize(inputs.perClass, inputs);
  const boundary = chooseFreezeBoundary({ ...inputs, size: category, smallestClass });
  return {
    policy: boundary.policy,
    requestedPolicy: inputs.requestedPolicy,
    datasetSize: { category, total, perClass: inputs.perClass, smallestClass },
    similarity: inputs.similarity ?? { category: 'not-measured', scores: [], reason: 'Similarity was not measured.' },
    quadrant: `${category} dataset, ${inputs.similarity && inputs.similarity.category !== 'not-measured' ? `${inputs.similarity.category} data` : 'similarity not measured'}`,
    cutLayer: boundary.cutLayer,
    ...(boundary.fineTune ? { fineTune: boundary.fineTune } : {}),
    pooling: boundary.pooling,
    trainableLayers: boundary.trainableLayers,
    reasons: [
      `The dataset is ${category}: ${total} training images, the smallest class has ${smallestClass} ` +
        `(large means at least ${inputs.largeMinImages} images and ${inputs.largeMinImagesPerClass} per class).`,
      ...boundary.reasons,
    ],
  };
}

/** The plan as trained: the head-or-baseline decision on the validation split, with its numbers, joins it. */
export function withBaseline(plan: Plan, baseline: BaselineComparison | undefined): Plan {
  if (!baseline) return plan;
  return { ...plan, baseline, reasons: [...plan.reasons, baseline.reason] };
}

/** The plan as exported: the baseline's refit on every labelled image joins its comparison. */
export function withBaselineRefit(plan: Plan, refit: BaselineRefit): Plan {
  if (!plan.baseline) return plan;
  return { ...plan, baseline: { ...plan.baseline, refit }, reasons: [...plan.reasons, refit.reason] };
}

/** The plan as trained: the fine-tuning phase's keep-or-drop decision, with its numbers, joins it. */
export function withFineTuneGate(plan: Plan, gate: FineTuneGate | undefined): Plan {
  if (!gate || !plan.fineTune) return plan;
  return { ...plan, fineTune: { ...plan.fineTune, gate }, reasons: [...plan.reasons, gate.reason] };
}
