// What the measuring scripts share: the built modules (dist/), their options, and one dataset's
// frozen features as a plan reads them.
import 'reflect-metadata';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A module of the build (`npm run build` first). */
export const dist = (file) => require(path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'dist', 'src', file));

/** Removes `--name value` from args and returns the value (or the fallback). */
export function takeOption(args, name, fallback) {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : args.splice(i, 2)[1];
}

/** The dataset, its plan (under `flags`) and the plan's frozen features (train, val, test; from the cache when there). */
export async function planFeatures(dataDir, env, flags) {
  const { loadConfig } = dist('config/load-config.js');
  const { createContainer } = dist('container/container.js');
  const { silentLogger } = dist('logger.js');
  const { RunPreparation } = dist('pipeline/prepare-run.js');
  const { extractDatasetFeatures } = dist('pipeline/extract-dataset-features.js');
  const { createFrozenRunner } = dist('features/frozen-runner.js');
  const { FeatureCache } = dist('features/feature-cache.js');
  const { ImageDecoder } = dist('preprocess/image-decoder.js');
  const config = loadConfig({ env, environment: {}, flags }).values;
  const container = createContainer(config, silentLogger);
  const { base, dataset, plan, decode, keyParts } = await container.get(RunPreparation).prepare(dataDir);
  const runner = createFrozenRunner(base, plan.cutLayer, decode.size, { pooling: plan.pooling });
  try {
    const features = await extractDatasetFeatures(runner, dataset, {
      decoder: container.get(ImageDecoder), decode, concurrency: 4, batchSize: 32, cache: container.get(FeatureCache), keyParts,
      logger: silentLogger, workers: 2, augment: { ...config.augment, views: 0, seed: 0 },
    });
    return { dataset, plan, features };
  } finally {
    runner.dispose();
    base.dispose();
  }
}
