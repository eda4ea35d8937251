/**
 * The published layouts of the TF-slim MobileNets behind TF Hub's imagenet/mobilenet_v1_*_224 and
 * mobilenet_v2_*_224 (TF-slim mobilenet_v1.py MOBILENETV1_CONV_DEFS, mobilenet_v2.py V2_DEF), as a flat
 * list of the convolutions the tfjs converter leaves after folding batch norm into them.
 */

/** One convolution of the graph: its TF-slim scope and what it computes. */
export interface ConvStep {
  kind: 'conv' | 'depthwise';
  /** Scope inside the network, e.g. "expanded_conv_3/expand" or "Conv2d_5_pointwise". */
  scope: string;
  kernel: 1 | 3;
  stride: 1 | 2;
  /** Output channels (a depthwise convolution keeps its input's). */
  filters: number;
  relu6: boolean;
  /** Numbered block the step belongs to (1, 2, ...), undefined for the stem and the first v2 block. */
  block?: number;
  /** Set on a block's last step when the block adds its input back (v2 residual): the scope of that add. */
  residualAdd?: string;
}

export interface MobileNetLayout {
  version: 1 | 2;
  /** "MobilenetV1" or "MobilenetV2": the graph's scope. */
  scope: string;
  steps: ConvStep[];
  /** Channels of the last feature map (the embedding's width). */
  embeddingWidth: number;
  /** Classes of the ImageNet classifier (1000 and a background class). */
  logits: number;
}

export const imagenetLogits = 1001;

/** TF-slim's _make_divisible: round to the nearest multiple of 8, never more than 10% down. */
function makeDivisible(value: number, divisor = 8): number {
  const rounded = Math.max(divisor, Math.floor((value + divisor / 2) / divisor) * divisor);
  return rounded < 0.9 * value ? rounded + divisor : rounded;
}

/** MobileNet v1: a 3x3 stem, then 13 depthwise-separable blocks (stride, pointwise depth). */
const v1Blocks: [1 | 2, number][] = [
  [1, 64], [2, 128], [1, 128], [2, 256], [1, 256], [2, 512],
  [1, 512], [1, 512], [1, 512], [1, 512], [1, 512], [2, 1024], [1, 1024],
];

function mobileNetV1(alpha: number): MobileNetLayout {
  // mobilenet_v1.py: depth(d) = max(int(d * depth_multiplier), min_depth=8).
  const depth = (d: number) => Math.max(Math.floor(d * alpha), 8);
  const steps: ConvStep[] = [{ kind: 'conv', scope: 'Conv2d_0', kernel: 3, stride: 2, filters: depth(32), relu6: true }];
  let channels = depth(32);
  v1Blocks.forEach(([stride, d], i) => {
    const block = i + 1;
    steps.push({ kind: 'depthwise', scope: `Conv2d_${block}_depthwise`, kernel: 3, stride, filters: channels, relu6: true, block });
    channels = depth(d);
    steps.push({ kind: 'conv', scope: `Conv2d_${block}_pointwise`, kernel: 1, stride: 1, filters: channels, relu6: true, block });
  });
  return { version: 1, scope: 'MobilenetV1', steps, embeddingWidth: channels, logits: imagenetLogits };
}

/** MobileNet v2 inverted residual blocks after the first: (expansion, output depth, repeats, first stride). */
const v2Stages: [number, number, number, 1 | 2][] = [
  [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
];

function mobileNetV2(alpha: number): MobileNetLayout {
  const depth = (d: number) => makeDivisible(d * alpha);
  let channels = depth(32);
  const steps: ConvStep[] = [
    { kind: 'conv', scope: 'Conv', kernel: 3, stride: 2, filters: channels, relu6: true },
    // The first block has expansion 1: no expand convolution.
    { kind: 'depthwise', scope: 'expanded_conv/depthwise', kernel: 3, stride: 1, filters: channels, relu6: true },
    { kind: 'conv', scope: 'expanded_conv/project', kernel: 1, stride: 1, filters: depth(16), relu6: false },
  ];
  channels = depth(16);
  let block = 0;
  for (const [expansion, d, repeats, firstStride] of v2Stages) {
    for (let r = 0; r < repeats; r++) {
      block += 1;
      const stride = r === 0 ? firstStride : 1;
      const inner = makeDivisible(channels * expansion);
      const out = depth(d);
      const name = `expanded_conv_${block}`;
      steps.push({ kind: 'conv', scope: `${name}/expand`, kernel: 1, stride: 1, filters: inner, relu6: true, block });
      steps.push({ kind: 'depthwise', scope: `${name}/depthwise`, kernel: 3, stride, filters: inner, relu6: true, block });
      const residual = stride === 1 && out === channels;
      steps.push({ kind: 'conv', scope: `${name}/project`, kernel: 1, stride: 1, filters: out, relu6: false, block, ...(residual ? { residualAdd: `${name}/add` } : {}) });
      channels = out;
    }
  }
  // The last convolution keeps 1280 channels below alpha 1 (TF-slim and Keras alike).
  const last = alpha > 1 ? depth(1280) : 1280;
  steps.push({ kind: 'conv', scope: 'Conv_1', kernel: 1, stride: 1, filters: last, relu6: true });
  return { version: 2, scope: 'MobilenetV2', steps, embeddingWidth: last, logits: imagenetLogits };
}

export function mobileNetLayout(version: 1 | 2, alpha: number): MobileNetLayout {
  return version === 1 ? mobileNetV1(alpha) : mobileNetV2(alpha);
}
