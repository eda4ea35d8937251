import * as tf from '@tensorflow/tfjs';
import { readValues } from '../backend/read-values';
import type { FitOptions } from '../train/fit';
import { buildHead } from '../train/head';
import { trainHead } from '../train/train-head';
import type { HeadCandidate, HeadSettings } from './cross-validate-head';

/** One fold of a head's cross-validation: what its training images and its held-out images read. */
export interface FoldInput {
  trainX: tf.Tensor2D;
  trainLabels: number[];
  heldOutX: tf.Tensor2D;
}

/**
 * The candidate trained on one fold for up to `maxEpochs`, with no early stopping of its own: after
 * every epoch `afterEpoch` receives the held-out images' probabilities (K per row) and answers
 * whether to stop. The training the stacked folds (stacked-fold-heads.ts) give every fold at once.
 */
export async function trainHeadOnFold(args: {
  candidate: HeadCandidate;
  settings: HeadSettings;
  fitOptions: FitOptions;
  maxEpochs: number;
  numClasses: number;
  input: FoldInput;
  afterEpoch: (epoch: number, probabilities: Float32Array) => Promise<boolean>;
}): Promise<void> {
  const { candidate, numClasses, input } = args;
  const head = candidateHead(candidate, input.trainX.shape[1], numClasses, args.settings);
  const predict = () => readValues(() => head.predict(input.heldOutX) as tf.Tensor2D) as Float32Array;
  try {
    await trainHead(head, { x: input.trainX, labels: input.trainLabels }, undefined, numClasses, {
      ...args.fitOptions,
      ...untunedOptions(candidate, args.maxEpochs),
      onEpoch: undefined,
      callbacks: [
        {
          onEpochEnd: async (log, loop) => {
            if (await args.afterEpoch(log.epoch, predict())) loop.stopTraining = true;
          },
        },
      ],
    });
  } finally {
    head.dispose();
  }
}

export function candidateHead(candidate: HeadCandidate, numFeatures: number, numClasses: number, settings: HeadSettings): tf.Sequential {
  const { dropout, inputDropout, hiddenUnits } = candidate;
  return buildHead({ numFeatures, numClasses, dropout, inputDropout, hiddenUnits, ...settings });
}

/** Fixed epochs: no early stopping or plateau reduction, whose signal a held-out split would give. */
export function untunedOptions(candidate: HeadCandidate, epochs: number): Partial<FitOptions> {
  return { epochs, patience: epochs + 1, plateau: undefined, l2: candidate.l2, onWarning: undefined, checkpoint: undefined };
}
