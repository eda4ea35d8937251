import * as tf from '@tensorflow/tfjs';
import type { TrainableNetwork } from './fit';
import { clipByGlobalNorm, globalNorm } from './gradient-clipping';
import { isDecayedWeight, l2Penalty, trainingLoss, type LossSettings } from './loss';

/** What one step did: the batch's loss and readouts, or what was not finite (then nothing was applied). */
// A type rather than an interface, so that tf.tidy can return it.
export type StepOutcome = {
  /** Examples in the batch. */
  examples: number;
  /** Training-mode loss of the batch before the update (with L2 and label smoothing as configured). */
  loss: number;
  /** Global L2 norm of all gradients, before clipping. */
  gradientNorm: number;
  /** Correct predictions in the batch. */
  hits: number;
  /** Sum over the batch of the largest predicted probability. */
  maxProbability: number;
  /** Set when the loss or the gradient norm was NaN or infinite: the gradients were not applied. */
  failed?: 'loss' | 'gradient norm';
  /** Variables whose gradient holds NaN or Inf (only looked for when the step failed). */
  nonFiniteGradients: string[];
};

export interface StepSettings {
  numClasses: number;
  loss: LossSettings;
  /** L2 weight decay on kernels (0 = off). */
  l2: number;
  /** Global-norm clipping (0 = off). */
  clipNorm: number;
}

/**
 * One training step on a batch: forward pass in training mode (dropout masks from `random`), loss,
 * gradients of every group's variables, clipping, and each group's optimizer applying its share.
 */
export function trainStep(
  network: TrainableNetwork,
  optimizers: tf.Optimizer[],
  batch: { x: tf.Tensor; labels: tf.Tensor1D },
  settings: StepSettings,
  random: () => number,
): StepOutcome {
  const variables = network.groups.flatMap((group) => group.variables);
  const examples = batch.labels.shape[0];
  return tf.tidy(() => {
    let readouts: tf.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const probabilities = network.forwardTraining(batch.x, random);
      readouts = tf.keep(tf.stack([tf.sum(tf.cast(tf.equal(tf.argMax(probabilities, 1), batch.labels), 'float32')), tf.sum(tf.max(probabilities, 1))]));
      const loss = trainingLoss(probabilities, batch.labels, settings.numClasses, settings.loss);
      return settings.l2 > 0 ? (tf.add(loss, l2Penalty(variables.filter(isDecayedWeight), settings.l2)) as tf.Scalar) : loss;
    }, variables);
    const gradients = variables.map((v) => grads[v.name]);
    const norm = globalNorm(gradients);
    const [loss, gradientNorm, hits, maxProbability] = tf.concat([tf.stack([value, norm]), readouts!]).dataSync();
    readouts!.dispose();
    const outcome = { examples, loss, gradientNorm, hits, maxProbability, nonFiniteGradients: [] as string[] };
    if (!Number.isFinite(loss) || !Number.isFinite(gradientNorm)) {
      const nonFiniteGradients = variables.filter((v) => !tf.all(tf.isFinite(grads[v.name])).dataSync()[0]).map((v) => v.name);
      return { ...outcome, failed: Number.isFinite(loss) ? ('gradient norm' as const) : ('loss' as const), nonFiniteGradients };
    }
    const applied = settings.clipNorm > 0 ? clipByGlobalNorm(gradients, settings.clipNorm, norm) : gradients;
    let offset = 0;
    network.groups.forEach((group, g) => {
      optimizers[g].applyGradients(group.variables.map((v, i) => ({ name: v.name, tensor: applied[offset + i] })));
      offset += group.variables.length;
    });
    return outcome;
  });
}
