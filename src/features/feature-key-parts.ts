import type { Pooling } from '../models/grid-pooling';

/** What besides the image bytes determines cached features: the base's weights, where and how the features are taken, the decoding. */
export interface FeatureKeyParts {
  baseSha256: string;
  cutLayer: string;
  preprocessing: string;
}

/**
 * The cache name of the frozen part's output at a freeze boundary: fine-tuning caches the whole
 * activation map (`@activation`), a head alone only its pooled vector (`@grid` for 2x2 grid pooling).
 */
export function boundaryKeyParts(boundary: { cutLayer: string; fineTune?: unknown; pooling: Pooling }, baseSha256: string, preprocessing: string): FeatureKeyParts {
  const features = boundary.fineTune ? '@activation' : boundary.pooling === 'grid' ? '@grid' : '';
  return { baseSha256, cutLayer: `${boundary.cutLayer}${features}`, preprocessing };
}

/** The cache name of pooled features at a layer other than the boundary (doctor's head input when the plan fine-tunes). */
export function pooledKeyParts(layer: string, baseSha256: string, preprocessing: string): FeatureKeyParts {
  return { baseSha256, cutLayer: layer, preprocessing };
}

/** The cache name of the depth probe's output: every candidate layer's pooled features side by side (and their grids). */
export function probeKeyParts(layers: string[], grid: boolean, baseSha256: string, preprocessing: string): FeatureKeyParts {
  return { baseSha256, cutLayer: `probe${grid ? '+grid' : ''}:${layers.join(',')}`, preprocessing };
}
