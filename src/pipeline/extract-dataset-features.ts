import * as tf from '@tensorflow/tfjs';
import type { Dataset, ImageRecord } from '../data/dataset';
import { extractFeatures, type ExtractFeaturesOptions } from '../features/extract-features';
import { leaveOutChangedImages } from '../features/leave-out-changed-images';
import type { FrozenRunner } from '../features/frozen-runner';
import type { AugmentationSettings } from '../preprocess/augmentation';
import { AugmentingDecoder } from '../preprocess/augmenting-decoder';
import type { LabelledData } from '../train/fit';

export interface DatasetFeatures {
  /** The training images' features, followed by those of each augmented view. */
  train: LabelledData;
  val?: LabelledData;
  test?: LabelledData;
  computed: number;
  fromCache: number;
  /** Every tensor above; the caller owns them. */
  tensors: tf.Tensor[];
}

/**
 * The frozen part's output for every image of every split (one extraction, so workers start once),
 * plus `augment.views` augmented views of each training image, each a pure function of (image, view,
 * seed) cached like the originals. Validation and test images are never augmented. An image that
 * changed since it was checked is taken out of `dataset` (its splits) and listed in dataset.skipped.
 */
export async function extractDatasetFeatures(
  runner: FrozenRunner<tf.Tensor>,
  dataset: Dataset,
  options: ExtractFeaturesOptions & { augment: AugmentationSettings },
): Promise<DatasetFeatures> {
  const { augment, ...extractOptions } = options;
  const extracted = leaveOutChangedImages(dataset, await extractFeatures(runner, [...dataset.train, ...dataset.val, ...dataset.test], { ...extractOptions, changedImages: 'skip' }));
  let computed = extracted.computed;
  const featureShape = extracted.featureShape ?? runner.featureShape ?? [extracted.features[0]?.length ?? 0];
  const labelsOf = (part: ImageRecord[]) => part.map((r) => dataset.labels.indexOf(r.label));
  const tensors: tf.Tensor[] = [];
  const labelled = (features: Float32Array[], labels: number[]): LabelledData => {
    const x = stackFeatures(features, featureShape);
    tensors.push(x);
    return { x, labels };
  };
  const valStart = dataset.train.length;
  const testStart = valStart + dataset.val.length;
  const val = dataset.val.length > 0 ? labelled(extracted.features.slice(valStart, testStart), labelsOf(dataset.val)) : undefined;
  const test = dataset.test.length > 0 ? labelled(extracted.features.slice(testStart), labelsOf(dataset.test)) : undefined;
  const trainFeatures = extracted.features.slice(0, valStart);
  const trainLabels = labelsOf(dataset.train);
  // The tensors hold the features; let the per-image arrays go (activations add up at 5,000 images).
  extracted.features.length = 0;
  for (let view = 1; view <= augment.views; view++) {
    const decoder = new AugmentingDecoder(options.decoder, augment, view);
    const augmented = await extractFeatures(runner, dataset.train, {
      ...extractOptions,
      decoder,
      keyParts: { ...options.keyParts, preprocessing: decoder.describe(options.decode) },
      progressLabel: `augmented view ${view}/${augment.views}`,
      changedImages: 'skip',
    });
    computed += augmented.computed;
    // An image that changed now has no view; its earlier features (of what was checked) stay.
    augmented.features.forEach((features, i) => {
      if (!features) return;
      trainFeatures.push(features);
      trainLabels.push(trainLabels[i]);
    });
  }
  const train = labelled(trainFeatures, trainLabels);
  trainFeatures.length = 0;
  const total = trainLabels.length + dataset.val.length + dataset.test.length;
  return { train, val, test, computed, fromCache: total - computed, tensors };
}

/** One tensor [N, ...shape] from per-image feature vectors or flattened activations. */
function stackFeatures(features: Float32Array[], shape: number[]): tf.Tensor {
  const width = shape.reduce((a, b) => a * b, 1);
  const flat = new Float32Array(features.length * width);
  features.forEach((f, i) => flat.set(f, i * width));
  return tf.tensor(flat, [features.length, ...shape]);
}
