#!/usr/bin/env node
// Previous default (head trained on a train/val split with early stopping) vs the cross-validated
// selection (heads + logistic-regression baseline, winner trained on all images) vs the baseline
// alone, on the same cached frozen features, scored on each dataset's never-seen test/ images.
//   node scripts/measure-selection.mjs --seeds 1,2,3 --env development --policy intermediate /work/data/food /work/data/fashion10-50-s7 ...
// Each dataset folder holds train/<class> and test/<class>. Prints one row per dataset and method: mean and
// standard deviation over seeds of the test accuracy, plus the new method's CV estimate and wall time.
import path from 'node:path';
import { dist, planFeatures, takeOption } from './script-support.mjs';

const { loadConfig } = dist('config/load-config.js');
const { silentLogger } = dist('logger.js');
const { trainClassifier } = dist('pipeline/train-classifier.js');
const { evaluateNetwork } = dist('train/fit.js');
const { trainBySelection } = dist('pipeline/train-by-selection.js');
const { logisticHead } = dist('select/logistic-head.js');

const args = process.argv.slice(2);
const option = (name, fallback) => takeOption(args, name, fallback);
const seeds = option('seeds', '1,2,3').split(',').map(Number);
const env = option('env', 'development');
const only = option('methods', 'previous,selection').split(',');
// The previous default (development) forced the intermediate policy: compare on the features it used.
const policy = option('policy', 'intermediate');
const datasets = args;

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs) => (xs.length > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1)) : 0);
const fmt = (xs) => `${mean(xs).toFixed(3)} ± ${sd(xs).toFixed(3)}`;

const rows = [];
for (const dataDir of datasets) {
  const results = { previous: [], selection: [], baseline: [], cv: [], winner: [], seconds: [] };
  // Features depend on the plan, not the seed: extract (or read from the cache) once per dataset.
  const { dataset, plan, features } = await planFeatures(dataDir, env, { policy });
  const { train, val, test } = features;
  for (const seed of seeds) {
    const config = loadConfig({ env, environment: {}, flags: { seed: String(seed), policy } }).values;
    const numClasses = dataset.labels.length;
    const score = (head) => evaluateNetwork((x) => head.predict(x), test, numClasses).accuracy;
    if (only.includes('previous')) {
      const trained = await trainClassifier({ plan, train, val, numClasses, config, logger: silentLogger });
      results.previous.push(trained.score(test).accuracy);
      trained.head.dispose();
    }
    if (only.includes('selection')) {
      const started = Date.now();
      // Exactly what `train` runs on small data.
      const { selection } = await trainBySelection({ config, logger: silentLogger, train, val, numClasses });
      results.seconds.push((Date.now() - started) / 1000);
      results.selection.push(score(selection.head));
      const baselineHead = logisticHead(selection.baseline.model, selection.baseline.standardization);
      results.baseline.push(score(baselineHead));
      results.cv.push(selection.estimate.accuracy);
      results.winner.push(`${selection.winner === 'head' ? selection.chosen : 'baseline'}`);
      console.error(`${path.basename(dataDir)} seed ${seed}: ${selection.candidates.map((c) => `${c.name} ${c.accuracy.toFixed(3)}${c.settings.epochs ? `@${c.settings.epochs}` : ''}`).join('; ')} -> ${selection.chosen}`);
      baselineHead.dispose();
      selection.head.dispose();
    }
  }
  features.tensors.forEach((t) => t.dispose());
  for (const method of ['previous', 'selection', 'baseline']) {
    if (results[method].length === 0) continue;
    rows.push({ dataset: path.basename(dataDir), method, test: fmt(results[method]), runs: results[method].length, ...(method === 'selection' ? { cv: fmt(results.cv), seconds: fmt(results.seconds), winners: results.winner.join(' | ') } : {}) });
  }
  console.table(rows.filter((r) => r.dataset === path.basename(dataDir)));
}
console.log(JSON.stringify(rows, null, 1));

