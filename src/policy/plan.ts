import { UsageError } from '../errors';
import type { BaseModel } from '../models/base-model';

export type PolicyName = 'auto' | 'head' | 'intermediate' | 'top' | 'deep';

/** Everything `train` decides before training, with the reasons in sentences. */
export interface Plan {
  policy: Exclude<PolicyName, 'auto'>;
  requestedPolicy: PolicyName;
  datasetSize: { category: 'small' | 'large'; total: number; perClass: Record<string, number>; smallestClass: number };
  similarity: { category: 'similar' | 'different' | 'not-measured'; scores: { layer: string; score: number }[] };
  quadrant: string;
  /** Layer whose output the head reads: the freeze boundary. */
  cutLayer: string;
  /** Layers that learn; everything before the cut is frozen. */
  trainableLayers: string[];
  reasons: string[];
}

export interface PlanInputs {
  base: BaseModel;
  requestedPolicy: PolicyName;
  /** Cut layer forced by configuration (empty for the base's recommendation). */
  cutLayer: string;
  perClass: Record<string, number>;
  /** A dataset is large when it has at least this many training images... */
  largeMinImages: number;
  /** ...and its smallest class at least this many. */
  largeMinImagesPerClass: number;
  headLayers: string[];
}

export interface FreezeBoundary {
  policy: 'head' | 'intermediate';
  cutLayer: string;
  reasons: string[];
}

/**
 * Picks the freeze boundary. Until similarity is measured (the 2x2 matrix), auto keeps the
 * whole base frozen and cuts where the base is known to transfer best.
 */
export function chooseFreezeBoundary(inputs: Pick<PlanInputs, 'base' | 'requestedPolicy' | 'cutLayer'>): FreezeBoundary {
  const { base } = inputs;
  const reasons: string[] = [];
  if (inputs.requestedPolicy === 'top' || inputs.requestedPolicy === 'deep') {
    throw new PolicyUnavailable(inputs.requestedPolicy);
  }
  let policy: 'head' | 'intermediate';
  if (inputs.requestedPolicy === 'auto') {
    policy = base.recommendedCut || inputs.cutLayer ? 'intermediate' : 'head';
    reasons.push('Fine-tuning convolution blocks is not available yet, so every layer of the base stays frozen and only the head learns.');
  } else {
    policy = inputs.requestedPolicy;
    reasons.push(`The policy ${policy} was forced by configuration.`);
  }

  let cutLayer: string;
  if (policy === 'head') {
    cutLayer = base.lastFeatureLayer;
    reasons.push(`The head reads the last feature map of the base (${cutLayer}), before its original classifier.`);
  } else if (inputs.cutLayer) {
    cutLayer = inputs.cutLayer;
    reasons.push(`The head reads ${cutLayer}, the cut layer set in configuration (policy.cutLayer).`);
  } else if (base.recommendedCut) {
    cutLayer = base.recommendedCut.layer;
    reasons.push(`The head reads ${cutLayer}: ${base.recommendedCut.reason}. Layers after it are cut off, so the export is smaller and faster.`);
  } else {
    cutLayer = base.lastFeatureLayer;
    reasons.push(`The base names no better intermediate layer, so the head reads its last feature map (${cutLayer}).`);
  }
  if (base.network.kind === 'graph') {
    reasons.push('The base is a GraphModel, which tfjs cannot train: every plan is limited to frozen features.');
  }
  return { policy, cutLayer, reasons };
}

/** The plan: dataset size against the thresholds, and the freeze boundary. */
export function makePlan(inputs: PlanInputs): Plan {
  const counts = Object.values(inputs.perClass);
  const total = counts.reduce((a, b) => a + b, 0);
  const smallestClass = Math.min(...counts);
  const category = total >= inputs.largeMinImages && smallestClass >= inputs.largeMinImagesPerClass ? 'large' : 'small';
  const boundary = chooseFreezeBoundary(inputs);
  return {
    policy: boundary.policy,
    requestedPolicy: inputs.requestedPolicy,
    datasetSize: { category, total, perClass: inputs.perClass, smallestClass },
    similarity: { category: 'not-measured', scores: [] },
    quadrant: `${category} dataset, similarity not measured`,
    cutLayer: boundary.cutLayer,
    trainableLayers: inputs.headLayers,
    reasons: [
      `The dataset is ${category}: ${total} training images, the smallest class has ${smallestClass} ` +
        `(large means at least ${inputs.largeMinImages} images and ${inputs.largeMinImagesPerClass} per class).`,
      ...boundary.reasons,
    ],
  };
}

export class PolicyUnavailable extends UsageError {
  constructor(policy: string) {
    super(
      `Received --policy ${policy}. Fine-tuning convolution blocks (top, deep) is not available yet. ` +
        'Expected auto, head or intermediate.',
    );
  }
}
