import * as tf from '@tensorflow/tfjs';

export type HeadInitializer = 'glorotNormal' | 'truncatedNormal';

export interface HeadArgs {
  numFeatures: number;
  numClasses: number;
  /** Dropout rate before each dense layer. Defaults to 0.2. */
  dropout?: number;
  /** Units of an optional hidden ReLU layer (0 for none). Defaults to 0. */
  hiddenUnits?: number;
  /** Defaults to glorotNormal. */
  initializer?: HeadInitializer;
  seed: number;
}

function kernelInitializer(kind: HeadInitializer, fanIn: number, seed: number) {
  // Truncated normal with stddev 1/sqrt(fanIn) keeps activations at unit scale (never N(0, 1) on wide inputs).
  return kind === 'truncatedNormal'
    ? tf.initializers.truncatedNormal({ stddev: 1 / Math.sqrt(fanIn), seed })
    : tf.initializers.glorotNormal({ seed });
}

/**
 * The classifier head on pooled features: dropout, optional hidden layer + dropout, softmax.
 * Its layers are named head_* so they stay distinct from the base's when composed.
 */
export function buildHead(args: HeadArgs): tf.Sequential {
  const dropout = args.dropout ?? 0.2;
  const hiddenUnits = args.hiddenUnits ?? 0;
  const initializer = args.initializer ?? 'glorotNormal';
  const head = tf.sequential({ name: 'head' });
  head.add(tf.layers.dropout({ rate: dropout, inputShape: [args.numFeatures], name: 'head_dropout' }));
  let fanIn = args.numFeatures;
  if (hiddenUnits > 0) {
    head.add(
      tf.layers.dense({
        units: hiddenUnits,
        activation: 'relu',
        kernelInitializer: kernelInitializer(initializer, fanIn, args.seed + 1),
        name: 'head_hidden',
      }),
    );
    head.add(tf.layers.dropout({ rate: dropout, name: 'head_hidden_dropout' }));
    fanIn = hiddenUnits;
  }
  head.add(
    tf.layers.dense({
      units: args.numClasses,
      activation: 'softmax',
      kernelInitializer: kernelInitializer(initializer, fanIn, args.seed + 2),
      name: 'head_probabilities',
    }),
  );
  return head;
}
