import * as tf from '@tensorflow/tfjs';

export type OptimizerName = 'sgd' | 'adam' | 'rmsprop';

export interface OptimizerSettings {
  name: OptimizerName;
  /** Momentum of sgd (0 = plain SGD). Defaults to 0.9. RMSProp runs without momentum, as Keras' does by default. */
  momentum?: number;
}

/** A tfjs optimizer together with the one way its rate can be changed between steps. */
export interface RatedOptimizer {
  readonly optimizer: tf.Optimizer;
  readonly settings: Required<OptimizerSettings>;
  setLearningRate(rate: number): void;
  /** Internal state (moments, accumulators, iteration count) in tfjs' order; the caller disposes the copies. */
  saveState(): Promise<tf.Tensor[]>;
  /** Puts back what saveState returned (copies are taken). */
  restoreState(state: tf.Tensor[]): Promise<void>;
  dispose(): void;
}

/** Adam and RMSProp read their learningRate field on every step; tfjs has no public setter for it. */
interface MutableRate {
  learningRate: number;
}

/** SGD with momentum (tfjs' momentum optimizer), Adam or RMSProp (decay 0.9) at `learningRate`. */
export function createOptimizer(settings: OptimizerSettings, learningRate: number): RatedOptimizer {
  const momentum = settings.momentum ?? 0.9;
  if (!(momentum >= 0 && momentum < 1)) throw new Error(`Received momentum=${momentum}. Expected a number in [0, 1).`);
  const optimizer = (() => {
    switch (settings.name) {
      case 'sgd':
        return tf.train.momentum(learningRate, momentum);
      case 'adam':
        return tf.train.adam(learningRate);
      case 'rmsprop':
        return tf.train.rmsprop(learningRate, 0.9);
      default:
        throw new Error(`Received optimizer "${String(settings.name)}". Expected sgd, adam or rmsprop.`);
    }
  })();
  return {
    optimizer,
    settings: { name: settings.name, momentum },
    setLearningRate(rate: number) {
      // instanceof cannot tell tfjs optimizers apart (Optimizer overrides Symbol.hasInstance).
      if (settings.name === 'sgd') (optimizer as tf.MomentumOptimizer).setLearningRate(rate);
      else (optimizer as unknown as MutableRate).learningRate = rate;
    },
    async saveState() {
      const named = await optimizer.getWeights();
      // The iteration count is a fresh scalar; the rest are the optimizer's own variables.
      const state = named.map((entry, i) => (i === 0 ? entry.tensor : entry.tensor.clone()));
      const powers = adamPowers(optimizer);
      return powers ? [...state, powers.accBeta1.clone(), powers.accBeta2.clone()] : state;
    },
    async restoreState(state: tf.Tensor[]) {
      const powers = adamPowers(optimizer);
      const own = powers ? state.slice(0, -2) : state;
      await optimizer.setWeights(own.map((tensor, i) => ({ name: i === 0 ? 'iter' : `state_${i}`, tensor })));
      if (powers) {
        powers.accBeta1.assign(state[state.length - 2]);
        powers.accBeta2.assign(state[state.length - 1]);
      }
    },
    dispose() {
      optimizer.dispose();
      // tfjs' momentum optimizer does not release the -rate scalar its parent (SGD) keeps.
      if (settings.name === 'sgd') (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
    },
  };
}

/**
 * Adam's running beta1^t and beta2^t. Its setWeights recomputes them with pow(), which differs from the
 * running product in the last bits; a checkpoint keeps them so that a resumed run repeats the original exactly.
 */
function adamPowers(optimizer: tf.Optimizer): { accBeta1: tf.Variable; accBeta2: tf.Variable } | undefined {
  const fields = optimizer as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  return fields.accBeta1 && fields.accBeta2 ? { accBeta1: fields.accBeta1, accBeta2: fields.accBeta2 } : undefined;
}
