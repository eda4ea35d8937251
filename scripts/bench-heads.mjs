#!/usr/bin/env node
// The hidden head's cross-validation as `train` runs it on small data, on one dataset's frozen
// features, two ways in one process: reading the features (standardized per fold, dropout 0.5 on
// them and after the hidden layer: the candidate before span coordinates) and reading each fold's
// span coordinates (dropout after the hidden layer only: the candidate now). Prints each seed's
// out-of-fold accuracy, epochs and seconds, and the time ratio.
//   npm run build && node scripts/bench-heads.mjs --seeds 1,2,3 [--pooling grid] DIR   (DIR holds train/)
import path from 'node:path';
import { dist, planFeatures, takeOption } from './script-support.mjs';

const { loadConfig } = dist('config/load-config.js');
const { silentLogger } = dist('logger.js');
const { selectionMatrix } = dist('pipeline/train-by-selection.js');
const { headFitOptions } = dist('pipeline/train-classifier.js');
const { crossValidateHead } = dist('select/cross-validate-head.js');
const { rowsOf, standardizationOf, standardized } = dist('select/logistic-regression.js');
const { foldParts, stratifiedFolds } = dist('select/stratified-folds.js');

const args = process.argv.slice(2);
const seeds = takeOption(args, 'seeds', '1,2,3').split(',').map(Number);
const pooling = takeOption(args, 'pooling', 'grid');
const [dataDir] = args;

const flags = { policy: 'intermediate', pooling };
const { dataset, plan, features: extracted } = await planFeatures(dataDir, 'development', flags);
const { features, labels } = selectionMatrix(extracted);
const numClasses = dataset.labels.length;
console.log(`${path.basename(dataDir)}: ${features.rows} images, ${features.cols} features (${plan.cutLayer}, ${plan.pooling})`);

/** The input before span coordinates: each fold's features standardized with its training part's statistics. */
function standardizedFolds(foldOf) {
  return [...new Set(foldOf)].map((fold) => {
    const { train, heldOut } = foldParts(foldOf, fold);
    const stats = standardizationOf(rowsOf(features, train));
    const part = (rows) => Float32Array.from(standardized(rowsOf(features, rows), stats).data);
    return { fold, train: part(train), heldOut: part(heldOut), cols: features.cols };
  });
}

const ways = [
  { name: 'features', candidate: { name: 'hidden 64, dropout 0.5', dropout: 0.5, hiddenUnits: 64, l2: 0 }, input: standardizedFolds },
  { name: 'span coordinates', candidate: { name: 'hidden 64, dropout 0.5 after it', dropout: 0.5, inputDropout: 0, hiddenUnits: 64, l2: 0 }, input: () => undefined },
];
const seconds = Object.fromEntries(ways.map((way) => [way.name, 0]));
for (const seed of seeds) {
  const config = loadConfig({ env: 'development', environment: {}, flags: { ...flags, seed: String(seed) } }).values;
  const foldOf = stratifiedFolds(labels, numClasses, config.train.folds, seed);
  for (const way of ways) {
    const foldCoordinates = way.input(foldOf);
    const started = Date.now();
    const { best } = await crossValidateHead({
      features, foldCoordinates, labels, numClasses, foldOf, candidates: [way.candidate],
      settings: { initializer: config.train.initializer, initStddev: config.train.initStddev, seed },
      fitOptions: { ...headFitOptions(config, silentLogger, config.train.epochs), onWarning: undefined },
      maxEpochs: config.train.epochs, patience: config.train.patience,
    });
    const elapsed = (Date.now() - started) / 1000;
    seconds[way.name] += elapsed;
    console.log(`  seed ${seed}, ${way.name.padEnd(16)} out-of-fold accuracy ${best.estimate.accuracy.toFixed(3)}, best epoch ${best.epochs} of ${best.curve.length}, ${elapsed.toFixed(1)} s`);
  }
}
console.log(`time, features / span coordinates: ${(seconds.features / seconds['span coordinates']).toFixed(2)}x`);
process.exit(0);
