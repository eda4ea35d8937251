import * as tf from '@tensorflow/tfjs';
import { orthogonalMatrix } from './orthogonal-matrix';

export type HeadInitializer = 'glorotNormal' | 'glorotUniform' | 'truncatedNormal' | 'orthogonal';

export interface HeadArgs {
  numFeatures: number;
  numClasses: number;
  /** Dropout rate before each dense layer. Defaults to 0.2. */
  dropout?: number;
  /** Dropout rate before the first dense layer, when it differs from `dropout`. */
  inputDropout?: number;
  /** Units of an optional hidden ReLU layer (0 for none). Defaults to 0. */
  hiddenUnits?: number;
  /** Defaults to glorotNormal. */
  initializer?: HeadInitializer;
  /** Standard deviation of truncatedNormal; 0 means 1 / sqrt(fanIn). Defaults to 0. */
  initStddev?: number;
  seed: number;
}

function kernelInitializer(kind: HeadInitializer, fanIn: number, seed: number, stddev: number) {
  switch (kind) {
    case 'truncatedNormal':
      // stddev 1/sqrt(fanIn) keeps activations at unit scale (never N(0, 1) on wide inputs).
      return tf.initializers.truncatedNormal({ stddev: stddev > 0 ? stddev : 1 / Math.sqrt(fanIn), seed });
    case 'glorotUniform':
      return tf.initializers.glorotUniform({ seed });
    case 'orthogonal':
      // Drawn by orthogonalMatrix after the layer is built (tfjs' own warns and is slow on wide kernels);
      // the layer records glorotNormal, which only matters for layers built anew from model.json.
      return tf.initializers.glorotNormal({ seed });
    case 'glorotNormal':
      return tf.initializers.glorotNormal({ seed });
    default:
      throw new Error(`Received initializer "${String(kind)}". Expected glorotNormal, glorotUniform, truncatedNormal or orthogonal.`);
  }
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
  head.add(tf.layers.dropout({ rate: args.inputDropout ?? dropout, inputShape: [args.numFeatures], name: 'head_dropout' }));
  let fanIn = args.numFeatures;
  if (hiddenUnits > 0) {
    head.add(
      tf.layers.dense({
        units: hiddenUnits,
        activation: 'relu',
        kernelInitializer: kernelInitializer(initializer, fanIn, args.seed + 1, args.initStddev ?? 0),
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
      kernelInitializer: kernelInitializer(initializer, fanIn, args.seed + 2, args.initStddev ?? 0),
      name: 'head_probabilities',
    }),
  );
  if (initializer === 'orthogonal') {
    for (const [name, seed] of [['head_hidden', args.seed + 1], ['head_probabilities', args.seed + 2]] as const) {
      if (!head.layers.some((layer) => layer.name === name)) continue;
      const layer = head.getLayer(name);
      const [kernel, bias] = layer.getWeights();
      const [rows, cols] = kernel.shape;
      const orthogonal = tf.tensor2d(orthogonalMatrix(rows, cols, seed), [rows, cols]);
      layer.setWeights([orthogonal, bias]);
      orthogonal.dispose();
    }
  }
  return head;
}

/** The train.* settings a head is built from. */
export type HeadSettings = Required<Omit<HeadArgs, 'numFeatures' | 'numClasses' | 'inputDropout'>>;

/** The head `train` trains, from its settings: doctor's checks build theirs here too, so both see the same initialization. */
export function buildConfiguredHead(settings: HeadSettings, numFeatures: number, numClasses: number, overrides: { dropout?: number } = {}): tf.Sequential {
  const { dropout, hiddenUnits, initializer, initStddev, seed } = settings;
  return buildHead({ numFeatures, numClasses, dropout, hiddenUnits, initializer, initStddev, seed, ...overrides });
}
