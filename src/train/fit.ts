import * as tf from '@tensorflow/tfjs';
import { EarlyStopping, type WeightHolder } from './early-stopping';
import type { LearningRateSchedule } from './learning-rate-schedule';
import { seededRandom, shuffledIndices } from './seeded-random';

export interface LabelledData {
  /** [examples, ...] features or activations */
  x: tf.Tensor;
  /** Class index of each example. */
  labels: number[];
}

/** What the loop trains: a training-mode forward pass, an inference pass, and its variables by group. */
export interface TrainableNetwork {
  /** Probabilities with dropout on (masks drawn from `random`); frozen parts stay in inference mode. */
  forwardTraining(x: tf.Tensor, random: () => number): tf.Tensor2D;
  /** Probabilities in inference mode. */
  predict(x: tf.Tensor): tf.Tensor2D;
  /** Variables by learning-rate group: pretrained layers learn slower than the head. */
  groups: { name: string; variables: tf.Variable[]; rateMultiplier: number }[];
  /** Everything whose weights early stopping saves and restores. */
  weights: WeightHolder;
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  schedule: LearningRateSchedule;
  /** Epochs without a lower validation loss before stopping. */
  patience: number;
  seed: number;
  /** Examples per inference batch when scoring (bounds memory for large activations). */
  evaluationBatchSize?: number;
  onEpoch?: (log: EpochLog) => void;
  /** Called after every training batch, counted from 1 within the epoch. */
  onBatch?: (epoch: number, batch: number, batchesPerEpoch: number) => void;
}

export interface EpochLog {
  epoch: number;
  learningRate: number;
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  seconds: number;
}

export interface FitResult {
  history: EpochLog[];
  bestEpoch: number;
  stoppedEarly: boolean;
}

/** Adam reads its learningRate field on every step; tfjs has no public setter for it. */
interface MutableRate {
  learningRate: number;
}

const epsilon = 1e-7;

export function crossEntropy(probabilities: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.log(tf.clipByValue(probabilities, epsilon, 1))), 1))) as tf.Scalar;
}

/** Loss and accuracy in inference mode, in batches. */
export function evaluateNetwork(
  predict: (x: tf.Tensor) => tf.Tensor2D,
  data: LabelledData,
  numClasses: number,
  batchSize = 256,
): { loss: number; accuracy: number } {
  let lossSum = 0;
  let correct = 0;
  const n = data.labels.length;
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const [loss, hits] = tf.tidy(() => {
      const x = tf.slice(data.x, start, size);
      const labels = tf.tensor1d(data.labels.slice(start, start + size), 'int32');
      const probabilities = predict(x);
      return [
        crossEntropy(probabilities, tf.oneHot(labels, numClasses) as tf.Tensor2D).dataSync()[0] * size,
        tf.sum(tf.cast(tf.equal(tf.argMax(probabilities, 1), labels), 'float32')).dataSync()[0],
      ];
    });
    lossSum += loss;
    correct += hits;
  }
  return { loss: lossSum / Math.max(n, 1), accuracy: correct / Math.max(n, 1) };
}

/**
 * The training loop: Adam per variable group at the scheduled rate times the group's multiplier,
 * a fresh shuffle every epoch, early stopping on validation loss with the best weights restored.
 */
export async function fit(
  network: TrainableNetwork,
  train: LabelledData,
  val: LabelledData | undefined,
  numClasses: number,
  options: FitOptions,
): Promise<FitResult> {
  const random = seededRandom(options.seed);
  const optimizers = network.groups.map((group) => tf.train.adam(options.schedule.rateAt(0) * group.rateMultiplier));
  const variables = network.groups.flatMap((group) => group.variables);
  const earlyStopping = new EarlyStopping(network.weights, options.patience);
  const trainLabels = tf.tensor1d(train.labels, 'int32');
  const history: EpochLog[] = [];
  let stoppedEarly = false;
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const started = Date.now();
      const learningRate = options.schedule.rateAt(epoch);
      optimizers.forEach((optimizer, g) => ((optimizer as unknown as MutableRate).learningRate = learningRate * network.groups[g].rateMultiplier));
      const order = shuffledIndices(train.labels.length, random);
      // Training loss and accuracy are running means over the epoch's batches (with dropout), as Keras
      // reports them: a second pass over the training set would cost a third of the epoch again.
      let lossSum = 0;
      let correct = 0;
      for (let start = 0; start < order.length; start += options.batchSize) {
        const batch = order.slice(start, start + options.batchSize);
        const [loss, hits] = tf.tidy(() => {
          const indices = tf.tensor1d(batch, 'int32');
          const x = tf.gather(train.x, indices);
          const labels = tf.gather(trainLabels, indices);
          const y = tf.oneHot(labels, numClasses) as tf.Tensor2D;
          let batchHits: tf.Tensor | undefined;
          const { value, grads } = tf.variableGrads(() => {
            const probabilities = network.forwardTraining(x, random);
            batchHits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(probabilities, 1), labels), 'float32')));
            return crossEntropy(probabilities, y);
          }, variables);
          network.groups.forEach((group, g) => {
            const groupGrads = group.variables.map((v) => ({ name: v.name, tensor: grads[v.name] }));
            optimizers[g].applyGradients(groupGrads);
          });
          const result = [value.dataSync()[0] * batch.length, batchHits!.dataSync()[0]];
          batchHits!.dispose();
          return result;
        });
        lossSum += loss;
        correct += hits;
        options.onBatch?.(epoch, start / options.batchSize + 1, Math.ceil(order.length / options.batchSize));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const trainMetrics = { loss: lossSum / train.labels.length, accuracy: correct / train.labels.length };
      const valMetrics = val && val.labels.length > 0 ? evaluateNetwork(network.predict, val, numClasses, options.evaluationBatchSize) : undefined;
      const log: EpochLog = {
        epoch,
        learningRate,
        loss: trainMetrics.loss,
        accuracy: trainMetrics.accuracy,
        ...(valMetrics ? { valLoss: valMetrics.loss, valAccuracy: valMetrics.accuracy } : {}),
        seconds: (Date.now() - started) / 1000,
      };
      history.push(log);
      options.onEpoch?.(log);
      if (earlyStopping.update(epoch, log.valLoss ?? log.loss)) {
        stoppedEarly = epoch < options.epochs - 1;
        break;
      }
    }
    earlyStopping.restoreBest();
  } finally {
    earlyStopping.dispose();
    trainLabels.dispose();
    optimizers.forEach((optimizer) => optimizer.dispose());
  }
  return { history, bestEpoch: earlyStopping.bestEpoch, stoppedEarly };
}

/** Runs the head's layers; dropout masks come from the seeded generator so runs repeat. */
export function applyHeadTraining(head: tf.Sequential, x: tf.Tensor, random: () => number): tf.Tensor2D {
  let y = x;
  for (const layer of head.layers) {
    if (layer.getClassName() === 'Dropout') {
      const rate = (layer.getConfig() as { rate: number }).rate;
      if (rate > 0) y = tf.dropout(y, rate, undefined, Math.floor(random() * 2 ** 31));
    } else {
      y = layer.apply(y) as tf.Tensor;
    }
  }
  return y as tf.Tensor2D;
}

export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}
