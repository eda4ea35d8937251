#!/usr/bin/env node
'use strict';
/**
 * Times building the trainable twin of a TF Hub MobileNet from a cached download: a hub-format
 * GraphModel with random weights of the real shapes (test/helpers/hub-graph-fixture) is served by a
 * loopback TF Hub, downloaded once, then loaded from the cache --reps times. Prints one JSON document:
 * per id, the first twin build of the process (cold, as in a CLI run), then the twin build
 * (timings.twin_s) and the whole load from cache (reading and hashing the files too) --reps times:
 * median, min and max in seconds.
 *
 *   npm run build && node scripts/bench-twin.js [--reps 5] [--ids mobilenet_v2_1.00,mobilenet_v1_1.00]
 */
require('reflect-metadata');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');
const dist = path.join(__dirname, '..', 'dist');
const { HubMobileNetSource, parseHubMobileNetId } = require(path.join(dist, 'src', 'models', 'hub-mobilenet-source.js'));
const { silentLogger } = require(path.join(dist, 'src', 'logger.js'));
const { hubMobileNetGraph, serveLoopbackHub } = require(path.join(dist, 'test', 'helpers', 'hub-graph-fixture.js'));

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] != null ? process.argv[i + 1] : fallback;
}
const REPS = Number(option('reps', 5));
const IDS = option('ids', 'mobilenet_v2_1.00').split(',');

const summary = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median: +median.toFixed(3), min: +s[0].toFixed(3), max: +s[s.length - 1].toFixed(3), n: s.length };
};

async function main() {
  await tf.setBackend('wasm');
  const routes = new Map(IDS.map((id) => {
    const hub = parseHubMobileNetId(id);
    return [hub.hubPath, hubMobileNetGraph({ version: hub.version, alpha: Number(hub.alpha) }).files];
  }));
  const hub = await serveLoopbackHub(routes);
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-twin-'));
  const config = { base: { id: IDS[0], cacheDir, featureCacheMaxMB: 4096, hubUrl: hub.url, downloadTimeoutSeconds: 60 } };
  const source = new HubMobileNetSource(config, silentLogger);
  const results = {};
  try {
    for (const id of IDS) {
      const first = await source.load(id); // downloads into the cache; the first twin of a process is built cold
      const cold = first.timings.twin_s;
      first.dispose();
      const twin = [];
      const load = [];
      for (let rep = 0; rep < REPS; rep++) {
        const started = process.hrtime.bigint();
        const base = await source.load(id);
        load.push(Number(process.hrtime.bigint() - started) / 1e9);
        if (base.network.kind !== 'layers') throw new Error(`${id} did not become a twin`);
        twin.push(base.timings.twin_s);
        base.dispose();
      }
      results[id] = { coldTwin_s: +cold.toFixed(3), twin_s: summary(twin), loadFromCache_s: summary(load) };
    }
  } finally {
    await hub.close();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ backend: tf.getBackend(), cpus: os.cpus().length, loadavg: os.loadavg().map((l) => +l.toFixed(1)), reps: REPS, results }, null, 2));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
