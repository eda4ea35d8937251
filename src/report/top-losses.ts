export interface ScoredExample {
  /** Position of the example in the scored set. */
  index: number;
  trueIndex: number;
  predictedIndex: number;
  /** Probability of the predicted class. */
  confidence: number;
  /** Probability given to the true class. */
  trueProbability: number;
  /** Cross-entropy of the example: -ln(probability of the true class). */
  loss: number;
}

const epsilon = 1e-7;

function argMaxRow(probabilities: ArrayLike<number>, numClasses: number, row: number): number {
  let best = 0;
  for (let k = 1; k < numClasses; k++) if (probabilities[row * numClasses + k] > probabilities[row * numClasses + best]) best = k;
  return best;
}

/**
 * The `count` examples with the highest loss, highest first: the images the model is most
 * confidently wrong about come first; correct ones appear only when fewer were wrong.
 * `probabilities` is [examples x numClasses] row-major.
 */
export function topLosses(probabilities: ArrayLike<number>, numClasses: number, trueIndices: number[], count: number): ScoredExample[] {
  if (probabilities.length !== trueIndices.length * numClasses) {
    throw new Error(`Received ${probabilities.length} probabilities for ${trueIndices.length} examples. Expected ${numClasses} per example.`);
  }
  const scored = trueIndices.map((trueIndex, index): ScoredExample => {
    const predictedIndex = argMaxRow(probabilities, numClasses, index);
    const trueProbability = probabilities[index * numClasses + trueIndex];
    return {
      index,
      trueIndex,
      predictedIndex,
      confidence: probabilities[index * numClasses + predictedIndex],
      trueProbability,
      loss: -Math.log(Math.max(trueProbability, epsilon)),
    };
  });
  return scored.sort((a, b) => b.loss - a.loss || a.index - b.index).slice(0, count);
}

/** The predicted class of every example. */
export function predictedIndices(probabilities: ArrayLike<number>, numClasses: number): number[] {
  return Array.from({ length: probabilities.length / numClasses }, (_, row) => argMaxRow(probabilities, numClasses, row));
}
