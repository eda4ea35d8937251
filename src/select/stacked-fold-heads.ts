import * as tf from '@tensorflow/tfjs';
import { readValues } from '../backend/read-values';
import { TrainingInterrupted } from '../errors';
import type { FitOptions } from '../train/fit';
import { classWeightsFor, exampleCrossEntropy, l2Penalty } from '../train/loss';
import { createOptimizer } from '../train/optimizer';
import { seededRandom, shuffledIndices, type SeededRandom } from '../train/seeded-random';
import type { HeadCandidate, HeadSettings } from './cross-validate-head';
import { candidateHead, type FoldInput } from './fold-head';

/** A step that came out NaN or infinite: the folds are trained one by one instead, where the NaN guard handles it. */
export class StackedStepNotFinite extends Error {}

/**
 * Whether a candidate's folds can train as one stacked network and still see exactly what their own
 * fits would: a hidden layer (the shape the stack is built for), the same number of steps per epoch
 * in every fold (one optimizer steps them all), and no gradient clipping (its norm is a fold's own).
 */
export function stackable(candidate: HeadCandidate, trainSizes: number[], fitOptions: FitOptions): boolean {
  const steps = trainSizes.map((n) => Math.ceil(n / fitOptions.batchSize));
  return candidate.hiddenUnits > 0 && steps.every((s) => s === steps[0]) && !(fitOptions.clipNorm && fitOptions.clipNorm > 0);
}

/**
 * A head candidate's folds trained side by side as one network whose weights have a leading fold
 * axis: one batched product per layer and one optimizer update per variable for all folds, instead
 * of every fold's ~180 small kernels per step (what a step costs on wasm and cpu). Each fold sees
 * what its own fit (fold-head.ts) would: its initial weights, its seeded shuffle and dropout masks,
 * its batches, its mean loss (class weights, label smoothing, L2 on kernels), the schedule's rate;
 * the optimizer's update is elementwise, so stacking does not mix folds. After every epoch
 * `afterEpoch` gets each fold's held-out probabilities and answers whether to stop.
 */
export async function trainStackedFolds(args: {
  candidate: HeadCandidate;
  settings: HeadSettings;
  fitOptions: FitOptions;
  maxEpochs: number;
  numClasses: number;
  folds: FoldInput[];
  afterEpoch: (epoch: number, probabilities: Float32Array[]) => Promise<boolean>;
}): Promise<void> {
  const { fitOptions, folds } = args;
  const stack = StackedHeads.create(args);
  const optimizer = createOptimizer(fitOptions.optimizer ?? { name: 'adam' }, fitOptions.schedule.rateAt(0));
  const randoms = folds.map(() => seededRandom(fitOptions.seed));
  try {
    for (let epoch = 0; epoch < args.maxEpochs; epoch++) {
      optimizer.setLearningRate(fitOptions.schedule.rateAt(epoch));
      const orders = folds.map((fold, f) => shuffledIndices(fold.trainLabels.length, randoms[f]));
      const steps = Math.ceil(orders[0].length / fitOptions.batchSize);
      for (let step = 0; step < steps; step++) {
        if (fitOptions.signal?.aborted) throw new TrainingInterrupted(`Training was interrupted during epoch ${epoch + 1} of the head's cross-validation.`);
        const rows = orders.map((order) => order.slice(step * fitOptions.batchSize, (step + 1) * fitOptions.batchSize));
        stack.step(optimizer.optimizer, rows, randoms);
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (await args.afterEpoch(epoch, stack.heldOutProbabilities())) return;
    }
  } finally {
    optimizer.dispose();
    stack.dispose();
  }
}

/** The folds' images, padded to common sizes and stacked along a leading fold axis. */
interface StackedData {
  /** Training inputs: folds x rows x columns, flattened to (folds * rows) x columns; labels likewise. */
  x: tf.Tensor2D;
  labels: tf.Tensor1D;
  /** Rows per fold in `x` (the largest training part). */
  rows: number;
  trainLabels: number[][];
  /** Each fold's class weights (K each; all 1 without any). */
  classWeights: number[][];
  /** Held-out inputs, folds x rows x columns, and how many rows of each fold are real. */
  heldOut: tf.Tensor3D;
  heldOutRows: number[];
}

/** The stacked heads: weights with a leading fold axis, stepped on batches of every fold at once. */
class StackedHeads {
  private constructor(
    private readonly candidate: HeadCandidate,
    private readonly numClasses: number,
    private readonly data: StackedData,
    private readonly weights: { hidden: tf.Variable; hiddenBias: tf.Variable; output: tf.Variable; outputBias: tf.Variable },
    private readonly labelSmoothing: number,
  ) {}

  static create({ candidate, settings, fitOptions, numClasses, folds }: Parameters<typeof trainStackedFolds>[0]): StackedHeads {
    const columns = Math.max(...folds.map((fold) => fold.trainX.shape[1]));
    const weights = initialWeights(candidate, settings, numClasses, folds, columns);
    return new StackedHeads(candidate, numClasses, stackedData(folds, fitOptions, numClasses, columns), weights, fitOptions.labelSmoothing ?? 0);
  }

  /** One optimizer step of every fold on its batch (`rows[f]`, indices into its training part). */
  step(optimizer: tf.Optimizer, rows: number[][], randoms: SeededRandom[]): void {
    const { data, candidate } = this;
    const size = Math.max(...rows.map((r) => r.length));
    // A fold's shorter last batch is padded with its row 0, which weighs nothing in its mean.
    const picked = rows.flatMap((r, f) => Array.from({ length: size }, (_, j) => f * data.rows + (j < r.length ? r[j] : 0)));
    // Each example's share of its fold's weighted mean loss: its class weight over the batch's size.
    const shares = rows.flatMap((r, f) => Array.from({ length: size }, (_, j) => (j < r.length ? data.classWeights[f][data.trainLabels[f][r[j]]] / r.length : 0)));
    // Dropout seeds in each fold's layer order, drawn from its own stream (as applyHeadTraining does).
    const inputRate = candidate.inputDropout ?? candidate.dropout;
    const seeds = randoms.map((random) => ({
      input: inputRate > 0 ? Math.floor(random() * 2 ** 31) : 0,
      hidden: candidate.dropout > 0 ? Math.floor(random() * 2 ** 31) : 0,
    }));
    const value = tf.tidy(() => {
      const index = tf.tensor1d(picked, 'int32');
      const x = tf.reshape(tf.gather(data.x, index), [rows.length, size, -1]) as tf.Tensor3D;
      const labels = tf.reshape(tf.gather(data.labels, index), [rows.length, size]);
      const objective = () => this.objective(x, labels, tf.tensor2d(shares, [rows.length, size]), seeds);
      return optimizer.minimize(objective, true, Object.values(this.weights))!.dataSync()[0];
    });
    if (!Number.isFinite(value)) throw new StackedStepNotFinite(`A stacked step's loss was ${value}.`);
  }

  /** Each fold's probabilities on its held-out images, in inference mode (no dropout). */
  heldOutProbabilities(): Float32Array[] {
    const { heldOut, heldOutRows } = this.data;
    const values = readValues(() => this.forward(heldOut)) as Float32Array;
    const rows = heldOut.shape[1];
    const K = this.numClasses;
    return heldOutRows.map((count, f) => values.slice(f * rows * K, (f * rows + count) * K));
  }

  dispose(): void {
    tf.dispose([this.data.x, this.data.labels, this.data.heldOut, ...Object.values(this.weights)]);
  }

  /** Sum over folds of each fold's weighted mean cross-entropy, plus L2 on the kernels. */
  private objective(x: tf.Tensor3D, labels: tf.Tensor, shares: tf.Tensor2D, seeds: { input: number; hidden: number }[]): tf.Scalar {
    const perExample = exampleCrossEntropy(this.forward(x, seeds), labels, this.numClasses, this.labelSmoothing);
    const crossEntropy = tf.sum(tf.mul(perExample, shares)) as tf.Scalar;
    const { hidden, output } = this.weights;
    return this.candidate.l2 > 0 ? tf.add(crossEntropy, l2Penalty([hidden, output], this.candidate.l2)) : crossEntropy;
  }

  /** Probabilities (folds x rows x K); with seeds, in training mode (each fold's dropout masks). */
  private forward(x: tf.Tensor3D, seeds?: { input: number; hidden: number }[]): tf.Tensor3D {
    const { hidden, hiddenBias, output, outputBias } = this.weights;
    const { candidate } = this;
    const input = seeds ? dropped(x, candidate.inputDropout ?? candidate.dropout, seeds.map((s) => s.input)) : x;
    const activations = tf.relu(tf.add(tf.matMul(input, hidden), hiddenBias)) as tf.Tensor3D;
    const kept = seeds ? dropped(activations, candidate.dropout, seeds.map((s) => s.hidden)) : activations;
    return tf.softmax(tf.add(tf.matMul(kept, output), outputBias)) as tf.Tensor3D;
  }
}

function stackedData(folds: FoldInput[], fitOptions: FitOptions, numClasses: number, columns: number): StackedData {
  const rows = Math.max(...folds.map((fold) => fold.trainLabels.length));
  const heldOutRows = folds.map((fold) => fold.heldOutX.shape[0]);
  const padded = (x: tf.Tensor2D, height: number) => tf.pad(x, [[0, height - x.shape[0]], [0, columns - x.shape[1]]]);
  const tensors = tf.tidy(() => ({
    x: tf.concat(folds.map((fold) => padded(fold.trainX, rows))) as tf.Tensor2D,
    labels: tf.tensor1d(folds.flatMap((fold) => [...fold.trainLabels, ...new Array<number>(rows - fold.trainLabels.length).fill(0)]), 'int32'),
    heldOut: tf.stack(folds.map((fold) => padded(fold.heldOutX, Math.max(...heldOutRows)))) as tf.Tensor3D,
  }));
  const trainLabels = folds.map((fold) => fold.trainLabels);
  const classWeights = trainLabels.map((labels) => classWeightsFor(fitOptions.classWeights, labels, numClasses) ?? new Array<number>(numClasses).fill(1));
  return { ...tensors, rows, trainLabels, classWeights, heldOutRows };
}

/** x (folds x rows x width) times each fold's dropout multiplier: tfjs' own dropout of a [rows, width] map with the fold's seed. */
function dropped(x: tf.Tensor3D, rate: number, seeds: number[]): tf.Tensor3D {
  if (!(rate > 0)) return x;
  const [, rows, width] = x.shape;
  const ones = tf.ones([rows, width]);
  return tf.mul(x, tf.stack(seeds.map((seed) => tf.dropout(ones, rate, undefined, seed)))) as tf.Tensor3D;
}

/** Every fold's head as its own fit would start it (candidateHead, the same seeds), padded to `columns` inputs and stacked. */
function initialWeights(candidate: HeadCandidate, settings: HeadSettings, numClasses: number, folds: FoldInput[], columns: number) {
  const heads = folds.map((fold) => candidateHead(candidate, fold.trainX.shape[1], numClasses, settings));
  try {
    const stacked = tf.tidy(() => {
      const layers = heads.map((head) => head.layers.filter((layer) => layer.getClassName() === 'Dense').map((dense) => dense.getWeights()));
      return {
        hidden: tf.stack(layers.map(([[kernel]]) => tf.pad(kernel, [[0, columns - kernel.shape[0]], [0, 0]]))),
        hiddenBias: tf.stack(layers.map(([[, bias]]) => bias.expandDims(0))),
        output: tf.stack(layers.map(([, [kernel]]) => kernel)),
        outputBias: tf.stack(layers.map(([, [, bias]]) => bias.expandDims(0))),
      };
    });
    try {
      return {
        hidden: tf.variable(stacked.hidden),
        hiddenBias: tf.variable(stacked.hiddenBias),
        output: tf.variable(stacked.output),
        outputBias: tf.variable(stacked.outputBias),
      };
    } finally {
      tf.dispose(Object.values(stacked));
    }
  } finally {
    heads.forEach((head) => head.dispose());
  }
}
