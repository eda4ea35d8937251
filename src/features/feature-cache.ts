import type { interfaces } from 'inversify';

/** Frozen-part outputs, keyed by everything that determines them. */
export interface FeatureCache {
  get(key: string): Float32Array | undefined;
  set(key: string, features: Float32Array): void;
  has(key: string): boolean;
  /** Drops least recently used entries beyond the configured size. */
  prune(): { removed: number; bytes: number };
}
export const FeatureCache: interfaces.ServiceIdentifier<FeatureCache> = Symbol.for('finetune.FeatureCache');
