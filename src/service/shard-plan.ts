import type { PreparedRun } from '../pipeline/prepare-run';
import type { JobRequest } from './job-request';

/** The frozen part a shard runs, as the parent planned it: what the feature cache keys are made of. */
export interface FrozenCut {
  cutLayer: string;
  /** Fine-tuning caches the activation map at the boundary, a head the pooled vector. */
  pooled: boolean;
  pooling: PreparedRun['plan']['pooling'];
  keyParts: PreparedRun['keyParts'];
  decode: PreparedRun['decode'];
}

/** One extraction shard: images (view 0 = the image itself, v > 0 = its v-th augmented view) whose features go into the shared cache. */
export interface ShardSpec {
  parentId: string;
  index: number;
  shards: number;
  request: JobRequest;
  frozen: FrozenCut;
  items: { path: string; sha256: string; view: number }[];
}

/**
 * Cuts the extraction `train` would do into shards of `shardSize` images: every image of every
 * split, then each augmented view of the training images (the same work and cache keys as
 * extractDatasetFeatures, so the parent's training finds every feature in the cache).
 */
export function planShards(parentId: string, request: JobRequest, prepared: PreparedRun, views: number, shardSize: number): ShardSpec[] {
  const { dataset, plan, keyParts, decode } = prepared;
  const items = [
    ...[...dataset.train, ...dataset.val, ...dataset.test].map((record) => ({ path: record.path, sha256: record.sha256, view: 0 })),
    ...Array.from({ length: views }, (_, v) => dataset.train.map((record) => ({ path: record.path, sha256: record.sha256, view: v + 1 }))).flat(),
  ];
  const frozen: FrozenCut = { cutLayer: plan.cutLayer, pooled: !plan.fineTune, pooling: plan.pooling, keyParts, decode };
  const count = Math.ceil(items.length / shardSize);
  return Array.from({ length: count }, (_, index) => ({
    parentId,
    index,
    shards: count,
    request,
    frozen,
    items: items.slice(index * shardSize, (index + 1) * shardSize),
  }));
}
