/** A convolution's weights as plain arrays: kernel [kh, kw, in, out] (or [kh, kw, in, multiplier] for a depthwise one). */
export interface ConvWeights {
  kernel: Float32Array;
  kernelShape: number[];
  /** One bias per output channel (zeros when the layer has none). */
  bias: Float32Array;
}

/** An inference-mode batch normalization over the last axis: gamma * (x - mean) / sqrt(variance + epsilon) + beta. */
export interface BatchNormWeights {
  /** Absent when the layer does not scale (scale: false): 1. */
  gamma?: Float32Array;
  /** Absent when the layer does not center (center: false): 0. */
  beta?: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
}

/** Output channels of a kernel: the last dimension of a conv kernel, in x multiplier of a depthwise one. */
export function outputChannels(kernelShape: number[], depthwise: boolean): number {
  const [, , inChannels, last] = kernelShape;
  return depthwise ? inChannels * last : last;
}

/**
 * The convolution that computes BN(conv(x)) in one step: each output channel's kernel scaled by
 * gamma / sqrt(variance + epsilon) and its bias moved by the same affine map. In both kernel
 * layouts the output channel of flat element i is i mod outputChannels (depthwise: channel c,
 * multiplier m -> c * multiplier + m, as tfjs and Keras order them). Computed in float64.
 */
export function foldBatchNorm(conv: ConvWeights, bn: BatchNormWeights, depthwise: boolean): ConvWeights {
  const channels = outputChannels(conv.kernelShape, depthwise);
  if (bn.mean.length !== channels) {
    throw new Error(`batch normalization over ${bn.mean.length} channels cannot follow a convolution with ${channels} output channels`);
  }
  const scale = new Float64Array(channels);
  const bias = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = (bn.gamma?.[c] ?? 1) / Math.sqrt(bn.variance[c] + bn.epsilon);
    bias[c] = (conv.bias[c] - bn.mean[c]) * scale[c] + (bn.beta?.[c] ?? 0);
  }
  const kernel = new Float32Array(conv.kernel.length);
  for (let i = 0; i < kernel.length; i++) kernel[i] = conv.kernel[i] * scale[i % channels];
  return { kernel, kernelShape: conv.kernelShape, bias };
}
