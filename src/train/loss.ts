import * as tf from '@tensorflow/tfjs';

export interface LossSettings {
  /** Share of each target spread evenly over all classes: y = (1 - s) * oneHot + s / numClasses. Defaults to 0. */
  labelSmoothing?: number;
  /** Weight of each class's examples (numClasses entries); undefined = all 1. */
  classWeights?: number[];
}

const epsilon = 1e-7;

/** Mean categorical cross-entropy; probabilities are clipped to [1e-7, 1] so a confident mistake costs at most ~16. */
export function crossEntropy(probabilities: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.log(tf.clipByValue(probabilities, epsilon, 1))), 1))) as tf.Scalar;
}

/**
 * The training objective: cross-entropy against (optionally smoothed) targets, each example weighted
 * by its class's weight, averaged over the batch (Keras' sample-weighted mean).
 */
export function trainingLoss(probabilities: tf.Tensor2D, labels: tf.Tensor1D, numClasses: number, settings: LossSettings = {}): tf.Scalar {
  return tf.tidy(() => {
    const perExample = exampleCrossEntropy(probabilities, labels, numClasses, settings.labelSmoothing ?? 0);
    if (!settings.classWeights) return tf.mean(perExample) as tf.Scalar;
    const weights = tf.gather(tf.tensor1d(settings.classWeights), labels);
    return tf.mean(tf.mul(perExample, weights)) as tf.Scalar;
  });
}

/** Each example's cross-entropy against its (optionally smoothed) one-hot target: probabilities [..., K], labels [...]. */
export function exampleCrossEntropy(probabilities: tf.Tensor, labels: tf.Tensor, numClasses: number, labelSmoothing: number): tf.Tensor {
  let targets = tf.oneHot(labels, numClasses).toFloat();
  if (labelSmoothing > 0) targets = tf.add(tf.mul(targets, 1 - labelSmoothing), labelSmoothing / numClasses);
  return tf.neg(tf.sum(tf.mul(targets, tf.log(tf.clipByValue(probabilities, epsilon, 1))), -1));
}

/** The class weights a fit uses: 'balanced' computed from `labels`, an array as given, none for 'none'. */
export function classWeightsFor(option: 'none' | 'balanced' | number[] | undefined, labels: number[], numClasses: number): number[] | undefined {
  if (option === undefined || option === 'none') return undefined;
  if (option === 'balanced') return balancedClassWeights(labels, numClasses);
  return option;
}

/** Keras' "balanced" class weights: numExamples / (numClasses * examplesOfClass); a class without examples gets 1. */
export function balancedClassWeights(labels: number[], numClasses: number): number[] {
  const counts = Array.from({ length: numClasses }, () => 0);
  for (const label of labels) counts[label] += 1;
  return counts.map((count) => (count > 0 ? labels.length / (numClasses * count) : 1));
}

/** l2 * sum of squared weights: the L2 weight-decay term added to the loss. */
export function l2Penalty(variables: tf.Variable[], l2: number): tf.Scalar {
  return tf.tidy(() => tf.mul(l2, tf.addN(variables.map((v) => tf.sum(tf.square(v))))) as tf.Scalar);
}

/** Kernels (dense, convolution, depthwise) decay; biases and batch-norm parameters do not. */
export function isDecayedWeight(variable: tf.Variable): boolean {
  return /kernel/.test(variable.name);
}
