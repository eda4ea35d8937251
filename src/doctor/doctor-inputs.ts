import type { FinetuneConfig } from '../config/schema';
import type { Dataset } from '../data/dataset';
import type * as tf from '@tensorflow/tfjs';
import type { LabelledFeatures } from '../train/train-head';
import type { CheckResult } from './check-result';
import type { ImageFingerprint } from './image-fingerprint';
import type { ShortRun } from './short-run';

/** Everything the checks look at, prepared once the way `train` prepares it. */
export interface DoctorInputs {
  dataset: Dataset;
  numClasses: number;
  /** Side of the square model input, in pixels. */
  inputSize: number;
  /** Sizes, colour models and normalized thumbnails of every usable image. */
  fingerprints: ImageFingerprint[];
  /** Frozen features of the training images as extracted (before standardization), in dataset.train order. */
  rawTrain: tf.Tensor2D;
  /** Standardized with the training statistics, as the head learns on them. */
  train: LabelledFeatures;
  val?: LabelledFeatures;
  config: FinetuneConfig;
  /** A freshly initialized head on these features, built as `train` builds it (dropout can be overridden). */
  newHead(options?: { dropout?: number }): tf.Sequential;
  /** A few epochs of the real head training on the real split; run once, shared by the checks that need it. */
  shortRun(): Promise<ShortRun>;
}

/** One sanity check: its name and how it reads the prepared inputs. */
export interface DoctorCheck {
  name: string;
  run(inputs: DoctorInputs): Promise<CheckResult>;
}
