import * as tf from '@tensorflow/tfjs';
import { crossEntropy, type LabelledData, type TrainableNetwork } from '../train/fit';
import { seededRandom, shuffledIndices } from '../train/seeded-random';

export interface StepRecord {
  step: number;
  learningRate: number;
  /** Cross-entropy of the step's batch (training mode), before the update. */
  loss: number;
  /** Global L2 norm of all gradients of the step. */
  gradientNorm: number;
  /** Variables whose gradient holds NaN or Inf. */
  nonFiniteGradients: string[];
}

export interface StepOptions {
  steps: number;
  batchSize: number;
  seed: number;
  /** Learning rate of each step (0-based). */
  rateAt(step: number): number;
  /** Return true to stop after this step. */
  stop?(record: StepRecord): boolean;
}

/** Adam reads its learningRate field on every step (as fit() relies on too). */
interface MutableRate {
  learningRate: number;
}

/**
 * Adam steps on batches drawn from a fresh shuffle each pass, with the rate set per step rather
 * than per epoch (what a learning-rate range test needs), recording loss and gradient norm.
 */
export async function runSteps(network: TrainableNetwork, data: LabelledData, numClasses: number, options: StepOptions): Promise<StepRecord[]> {
  const random = seededRandom(options.seed);
  const variables = network.groups.flatMap((group) => group.variables);
  const optimizers = network.groups.map(() => tf.train.adam(options.rateAt(0)));
  const labels = tf.tensor1d(data.labels, 'int32');
  const records: StepRecord[] = [];
  let order: number[] = [];
  try {
    for (let step = 0; step < options.steps; step++) {
      if (order.length < Math.min(options.batchSize, data.labels.length)) order = shuffledIndices(data.labels.length, random);
      const batch = order.splice(0, options.batchSize);
      const learningRate = options.rateAt(step);
      optimizers.forEach((optimizer, g) => ((optimizer as unknown as MutableRate).learningRate = learningRate * network.groups[g].rateMultiplier));
      const record = tf.tidy(() => {
        const indices = tf.tensor1d(batch, 'int32');
        const x = tf.gather(data.x, indices);
        const y = tf.oneHot(tf.gather(labels, indices), numClasses) as tf.Tensor2D;
        const { value, grads } = tf.variableGrads(() => crossEntropy(network.forwardTraining(x, random), y), variables);
        const squares = Object.values(grads).map((g) => tf.sum(tf.square(g)).dataSync()[0]);
        const nonFiniteGradients = Object.keys(grads).filter((_, i) => !Number.isFinite(squares[i]));
        network.groups.forEach((group, g) => optimizers[g].applyGradients(group.variables.map((v) => ({ name: v.name, tensor: grads[v.name] }))));
        return { step, learningRate, loss: value.dataSync()[0], gradientNorm: Math.sqrt(squares.reduce((a, b) => a + b, 0)), nonFiniteGradients };
      });
      records.push(record);
      if (options.stop?.(record)) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    labels.dispose();
    optimizers.forEach((optimizer) => optimizer.dispose());
  }
  return records;
}
