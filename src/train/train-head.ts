import * as tf from '@tensorflow/tfjs';
import { EarlyStopping } from './early-stopping';
import type { LearningRateSchedule } from './learning-rate-schedule';
import { seededRandom, shuffledIndices } from './seeded-random';

export interface LabelledFeatures {
  /** [examples, features] */
  x: tf.Tensor2D;
  /** Class index of each example. */
  labels: number[];
}

export interface TrainHeadOptions {
  epochs: number;
  batchSize: number;
  schedule: LearningRateSchedule;
  /** Epochs without a lower validation loss before stopping. */
  patience: number;
  seed: number;
  onEpoch?: (log: EpochLog) => void;
}

export interface EpochLog {
  epoch: number;
  learningRate: number;
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
}

export interface TrainHeadResult {
  history: EpochLog[];
  bestEpoch: number;
  stoppedEarly: boolean;
}

/** Adam reads its learningRate field on every step; tfjs has no public setter for it. */
interface MutableRate {
  learningRate: number;
}

const epsilon = 1e-7;

function crossEntropy(probabilities: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.log(tf.clipByValue(probabilities, epsilon, 1))), 1))) as tf.Scalar;
}

/** Runs the head for training: dropout masks come from the seeded generator, so runs repeat. */
function forwardTraining(head: tf.Sequential, x: tf.Tensor, random: () => number): tf.Tensor2D {
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

/** Loss and accuracy of the head in inference mode. */
export function evaluateHead(head: tf.Sequential, data: LabelledFeatures, numClasses: number): { loss: number; accuracy: number } {
  return tf.tidy(() => {
    const probabilities = head.predict(data.x) as tf.Tensor2D;
    const labels = tf.tensor1d(data.labels, 'int32');
    const loss = crossEntropy(probabilities, tf.oneHot(labels, numClasses) as tf.Tensor2D).dataSync()[0];
    const accuracy = tf.mean(tf.cast(tf.equal(tf.argMax(probabilities, 1), labels), 'float32')).dataSync()[0];
    return { loss, accuracy };
  });
}

/**
 * Trains the head on cached features: Adam, the scheduled rate each epoch, a fresh shuffle
 * every epoch, early stopping on validation loss with the best weights restored.
 */
export async function trainHead(
  head: tf.Sequential,
  train: LabelledFeatures,
  val: LabelledFeatures | undefined,
  numClasses: number,
  options: TrainHeadOptions,
): Promise<TrainHeadResult> {
  const random = seededRandom(options.seed);
  const optimizer = tf.train.adam(options.schedule.rateAt(0));
  const earlyStopping = new EarlyStopping(head, options.patience);
  const weights = head.trainableWeights.map((w) => w.read() as tf.Variable);
  const trainLabels = tf.tensor1d(train.labels, 'int32');
  const history: EpochLog[] = [];
  let stoppedEarly = false;
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const learningRate = options.schedule.rateAt(epoch);
      (optimizer as unknown as MutableRate).learningRate = learningRate;
      const order = shuffledIndices(train.labels.length, random);
      for (let start = 0; start < order.length; start += options.batchSize) {
        tf.tidy(() => {
          const indices = tf.tensor1d(order.slice(start, start + options.batchSize), 'int32');
          const x = tf.gather(train.x, indices);
          const y = tf.oneHot(tf.gather(trainLabels, indices), numClasses) as tf.Tensor2D;
          optimizer.minimize(() => crossEntropy(forwardTraining(head, x, random), y), false, weights);
        });
      }
      const trainMetrics = evaluateHead(head, train, numClasses);
      const valMetrics = val && val.labels.length > 0 ? evaluateHead(head, val, numClasses) : undefined;
      const log: EpochLog = {
        epoch,
        learningRate,
        loss: trainMetrics.loss,
        accuracy: trainMetrics.accuracy,
        ...(valMetrics ? { valLoss: valMetrics.loss, valAccuracy: valMetrics.accuracy } : {}),
      };
      history.push(log);
      options.onEpoch?.(log);
      if (earlyStopping.update(epoch, log.valLoss ?? log.loss)) {
        stoppedEarly = epoch < options.epochs - 1;
        break;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    earlyStopping.restoreBest();
  } finally {
    earlyStopping.dispose();
    trainLabels.dispose();
    optimizer.dispose();
  }
  return { history, bestEpoch: earlyStopping.bestEpoch, stoppedEarly };
}
