#!/usr/bin/env node
// Which readouts should small-data cross-validation compare? For every candidate depth x pooling of
// the probe: the cross-validated L2-path logistic regression on all training images (as `train`
// runs it) and its refit's accuracy on the never-seen test images; then rules for the set of depths
// cross-validation compares, each scored by the test accuracy of the readout it would choose.
//   npm run build && node scripts/measure-readouts.mjs --seeds 1,2,3 DIR...   (DIR holds train/ and test/)
// Prints one block per dataset and seed, then the rules' mean over datasets; JSON rows to --out FILE.
import fs from 'node:fs';
import path from 'node:path';
import { dist, takeOption } from './script-support.mjs';

const { loadConfig } = dist('config/load-config.js');
const { createContainer } = dist('container/container.js');
const { silentLogger } = dist('logger.js');
const { RunPreparation } = dist('pipeline/prepare-run.js');
const { createProbeRunner } = dist('features/frozen-runner.js');
const { extractFeatures } = dist('features/extract-features.js');
const { FeatureCache } = dist('features/feature-cache.js');
const { ImageDecoder } = dist('preprocess/image-decoder.js');
const { probeKeyParts } = dist('features/feature-key-parts.js');
const { extractionOptions } = dist('stages/extraction-options.js');
const { stratifiedFolds } = dist('select/stratified-folds.js');
const { LogisticPool, crossValidatePaths } = dist('select/logistic-pool.js');
const { refitLogistic, defaultStrengths } = dist('select/cross-validated-logistic.js');
const { standardized, logisticProbabilities } = dist('select/logistic-regression.js');

const args = process.argv.slice(2);
const option = (name, fallback) => takeOption(args, name, fallback);
const seeds = option('seeds', '1,2,3').split(',').map(Number);
const out = option('out', undefined);
const env = option('env', 'development');

const depthOf = (readout) => readout.name.split('/')[0];
const byScore = (row) => [...row.logme].sort((a, b) => b.score - a.score).map((s) => s.layer);
const bestOther = (row) => byScore(row).find((layer) => layer !== row.cut);
const rules = {
  'cut + best other depth within 10% of the range': (row) => [row.cut, ...(withinMargin(row, 0.1) ? [bestOther(row)] : [])],
  'cut + best other depth': (row) => [row.cut, bestOther(row)],
  'three best depths': (row) => byScore(row).slice(0, 3),
  'all depths': (row) => row.logme.map((s) => s.layer),
};

function withinMargin(row, margin) {
  const scores = row.logme.map((s) => s.score);
  const score = (layer) => row.logme.find((s) => s.layer === layer).score;
  return score(bestOther(row)) >= score(row.cut) - margin * (Math.max(...scores) - Math.min(...scores));
}

/** What select-features keeps: the highest out-of-fold accuracy, ties to the lower log loss. */
const chosen = (readouts) => readouts.reduce((a, b) => (b.cv > a.cv || (b.cv === a.cv && b.logLoss < a.logLoss) ? b : a));

async function measure(dataDir) {
  const config = loadConfig({ env, environment: {}, flags: {} }).values;
  const container = createContainer(config, silentLogger);
  const { base, dataset, plan, decode } = await container.get(RunPreparation).prepare(dataDir);
  const layers = plan.similarity.scores.map((s) => s.layer);
  const runner = createProbeRunner(base, layers, decode.size, { compiled: config.runtime.compiledForward });
  const services = { decoder: container.get(ImageDecoder), cache: container.get(FeatureCache), logger: silentLogger };
  const options = extractionOptions(config, services, decode, probeKeyParts(layers, runner.gridWidths.length > 0, base.sha256, decode.preprocessing));
  const labelled = [...dataset.train, ...dataset.val];
  const trainX = (await extractFeatures(runner, labelled, options)).features;
  const testX = (await extractFeatures(runner, dataset.test, options)).features;
  runner.dispose();
  base.dispose();
  const K = dataset.labels.length;
  const labels = labelled.map((r) => dataset.labels.indexOf(r.label));
  const testLabels = dataset.test.map((r) => dataset.labels.indexOf(r.label));
  const widths = [...runner.widths, ...runner.gridWidths];
  const names = [...layers.map((l) => `${l}/average`), ...layers.map((l) => `${l}/grid`)];
  const offsets = widths.map((_, j) => widths.slice(0, j).reduce((a, b) => a + b, 0));
  const matrix = (rows, j) => {
    const data = new Float64Array(rows.length * widths[j]);
    rows.forEach((v, r) => data.set(v.subarray(offsets[j], offsets[j] + widths[j]), r * widths[j]));
    return { data, rows: rows.length, cols: widths[j] };
  };
  const trainM = widths.map((_, j) => matrix(trainX, j));
  const testM = widths.map((_, j) => matrix(testX, j));
  const rows = [];
  for (const seed of seeds) {
    const foldOf = stratifiedFolds(labels, K, config.train.folds, seed);
    const pool = new LogisticPool();
    const scored = await crossValidatePaths(pool, trainM.map((features) => ({ features, labels, numClasses: K, foldOf, strengths: defaultStrengths }))).finally(() => pool.destroy());
    const readouts = scored.map((s, j) => {
      const refit = refitLogistic(trainM[j], labels, K, defaultStrengths, s.strength);
      const p = logisticProbabilities(refit.model, standardized(testM[j], refit.standardization));
      const hits = testLabels.filter((y, r) => p.subarray(r * K, (r + 1) * K).every((v) => v <= p[r * K + y])).length;
      return { name: names[j], cv: s.estimate.accuracy, logLoss: s.estimate.logLoss, strength: s.strength, test: hits / testLabels.length };
    });
    const row = { data: path.basename(dataDir), seed, n: labels.length, cut: plan.cutLayer, logme: plan.similarity.scores, readouts };
    console.log(`${row.data} seed ${seed}: ${row.n} images, plan ${plan.cutLayer}`);
    for (const r of readouts) console.log(`  ${r.name.padEnd(30)} cv ${r.cv.toFixed(3)}  test ${r.test.toFixed(3)}  L2 ${r.strength.toPrecision(2)}`);
    if (out) fs.appendFileSync(out, `${JSON.stringify(row)}\n`);
    rows.push(row);
  }
  return rows;
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const perRule = Object.fromEntries(Object.keys(rules).map((name) => [name, []]));
for (const dataDir of args) {
  const rows = await measure(dataDir);
  for (const [name, rule] of Object.entries(rules)) {
    const tests = rows.map((row) => chosen(row.readouts.filter((r) => rule(row).includes(depthOf(r)))).test);
    perRule[name].push(mean(tests));
    console.log(`  ${name}: ${tests.map((t) => t.toFixed(3)).join(', ')}`);
  }
}
console.table(Object.entries(perRule).map(([rule, means]) => ({ rule, 'held-out accuracy (mean over datasets)': mean(means).toFixed(4) })));
