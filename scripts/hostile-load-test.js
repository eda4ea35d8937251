#!/usr/bin/env node
/**
 * Bounded hostile load test of `finetune serve` (issue 15): the real CLI serves a tiny export in a
 * child process with its default limits; on loopback, at the same time,
 *   - good clients send :predict requests (a [32, 32, 3] pixel array, or a b64 PNG), honouring
 *     503 + Retry-After by retrying (at most 30 times),
 *   - huge clients send 14 MB JSON bodies (one 1100x1100 pixel array: parsed, then refused for its shape),
 *     64-image requests, 16-bit interlaced PNGs of 36 MP (over serve.maxInputPixels) and of 16 MP (at it),
 *   - malformed clients send broken JSON, wrong shapes, undecodable b64, wrong content types, broken HTTP,
 *   - a prober (in a worker thread of its own) GETs /healthz every 50 ms and reads the server's RSS from /proc.
 * Every good answer must equal the answer the idle server gave for the same request. Bounded: a fixed
 * number of requests per client, and the whole run is abandoned after --max-seconds (180).
 * The server and the prober run at this process's priority; the thread driving the load runs
 * --client-nice (10) nice steps below it, so that the load it generates does not delay the probes
 * or the server's HTTP thread more than a client elsewhere would. Do not run the script under `nice`:
 * the server would run niced too.
 * Prints ONE JSON document on stdout (progress on stderr). Linux only (/proc). Takes 1-2 minutes.
 *
 *   npm run build && node scripts/hostile-load-test.js [--good-clients 8] [--good-requests 40]
 *        [--huge-clients 3] [--huge-requests 6] [--max-seconds 180] [--client-nice 10]
 *   SERVE_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR" or "--trace-gc" profiles the server child (serve-child.js).
 */
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const sharp = require('sharp');
const { samples, trainTinyExport, startServer } = require('./serve-child');

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const goodClients = option('good-clients', 8);
const goodRequests = option('good-requests', 40);
const hugeClients = option('huge-clients', 3);
const hugeRequests = option('huge-requests', 6);
const maxSeconds = option('max-seconds', 180);
const clientNice = option('client-nice', 10);
const log = (message) => process.stderr.write(`${message}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function rssMiB(pid, field) {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return Number(line.split(/\s+/)[1]) / 1024;
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * The server's own event-loop delay (prom-client's monitorEventLoopDelay, reset at every scrape) since
 * the previous scrape, in ms: tells a stall of the server's main thread from delays in this process.
 */
async function eventLoopDelayMs(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name) => Number(text.match(new RegExp(`^finetune_serve_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm'))?.[1]) * 1000;
  return { p50: read('p50'), p99: read('p99'), max: read('max') };
}

/** Fields of /proc/<pid>/task/<tid>/stat after the thread's name: index 0 is field 3 (state). */
function statFields(pid, tid) {
  const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The server's threads by name, with how many run at each nice value: {"serve-inference": {"10": 2}, ...}. */
function threadNices(pid) {
  const byName = {};
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const nice = statFields(pid, tid)[16];
      byName[name] ??= {};
      byName[name][nice] = (byName[name][nice] ?? 0) + 1;
    } catch {
      // The thread ended meanwhile.
    }
  }
  return byName;
}

/** CPU ticks (user + system) and "name@nice" of each thread of process `pid`, by thread id. */
function threadTicks(pid) {
  const threads = new Map();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const fields = statFields(pid, tid);
      threads.set(tid, { key: `${name}@${fields[16]}`, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return threads;
}

/** CPU seconds the threads of process `pid` spent since the `before` snapshot, by name and (current) nice value, e.g. {"node@0": 1.2}. */
function cpuSecondsSince(pid, before) {
  const seconds = {};
  for (const [tid, { key, ticks }] of threadTicks(pid)) seconds[key] = (seconds[key] ?? 0) + (ticks - (before.get(tid)?.ticks ?? 0)) / 100;
  return seconds;
}

/** Milliseconds a thread has run, and waited runnable for a core, from its schedstat file (/proc/<pid>/task/<tid>/schedstat). */
function schedMs(file) {
  const [running, waiting] = fs.readFileSync(file, 'utf8').split(' ').map(Number);
  return { running: running / 1e6, waiting: waiting / 1e6 };
}

/** The schedstat file of the main thread (the one answering HTTP) of process `pid`. */
const mainThreadSchedstat = (pid) => `/proc/${pid}/task/${pid}/schedstat`;

async function post(url, body, contentType) {
  const started = performance.now();
  try {
    const response = await fetch(url, { method: 'POST', headers: contentType ? { 'content-type': contentType } : {}, body });
    const text = await response.text();
    return { status: response.status, text, retryAfter: Number(response.headers.get('retry-after') ?? 0), ms: performance.now() - started };
  } catch (error) {
    return { status: 0, text: String(error.cause?.code ?? error.message), ms: performance.now() - started };
  }
}

/** A 16-bit interlaced PNG (the costliest kind to decode) of a gradient, so it stays small on the wire. */
function heavyPng(side) {
  const gradient = Buffer.alloc(side * 3 * 2);
  for (let i = 0; i < gradient.length; i++) gradient[i] = i % 251;
  return sharp(gradient, { raw: { width: side, height: 1, channels: 3 } })
    .resize(side, side, { kernel: 'nearest' })
    .toColourspace('rgb16')
    .png({ progressive: true, compressionLevel: 9 })
    .toBuffer();
}

/**
 * Probes /healthz every 50 ms and reads the server's RSS, in a worker thread of its own: this process's
 * event loop is busy driving the load (encoding 14 MB bodies, comparing answers), which would delay
 * the probes' own timing. Each probe also records how long, meanwhile, the prober and the server's
 * HTTP thread were runnable but waiting for a core, and how long that thread ran: a slow probe is
 * then either the server's (running) or the machine's (waiting).
 * Resolves once the prober is warm; stop() answers {health: [{at, ms, status, proberWaitMs, serverWaitMs, serverRunMs}], rss: [MiB], nice}.
 */
async function startProber(url, pid) {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    const rssMiB = ${rssMiB.toString()};
    const schedMs = ${schedMs.toString()};
    const own = '/proc/' + fs.readlinkSync('/proc/thread-self') + '/schedstat';
    let probing = true;
    parentPort.on('message', () => (probing = false));
    const probe = () => fetch(workerData.url + '/healthz').then((r) => r.status, () => 0);
    (async () => {
      // Untimed: the first fetch in a thread loads and compiles undici (tens of ms) and opens the connection.
      for (let i = 0; i < 5; i++) await probe();
      parentPort.postMessage('ready');
      const health = [];
      const rss = [];
      while (probing) {
        const [prober, server] = [schedMs(own), schedMs(workerData.serverSchedstat)];
        const started = performance.now();
        const status = await probe();
        const ms = performance.now() - started;
        const [proberAfter, serverAfter] = [schedMs(own), schedMs(workerData.serverSchedstat)];
        const proberWaitMs = proberAfter.waiting - prober.waiting;
        health.push({ at: Date.now(), ms, status, proberWaitMs, serverWaitMs: serverAfter.waiting - server.waiting, serverRunMs: serverAfter.running - server.running });
        rss.push(rssMiB(workerData.pid, 'VmRSS'));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      parentPort.postMessage({ health, rss, nice: require('node:os').getPriority() });
    })();`;
  const worker = new Worker(code, { eval: true, workerData: { url, pid, serverSchedstat: mainThreadSchedstat(pid) } });
  const failed = new Promise((_resolve, reject) => worker.once('error', reject));
  const message = () => Promise.race([new Promise((resolve) => worker.once('message', resolve)), failed]);
  await message(); // 'ready'
  const done = message();
  return {
    stop: async () => {
      worker.postMessage('stop');
      const result = await done;
      await worker.terminate();
      return result;
    },
  };
}

function brokenHttp(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('POST /v1/models/hostile:predict HTTP/1.1\r\nContent-Length: zz\r\n\r\n'));
    socket.on('data', () => socket.destroy());
    socket.on('close', resolve);
    socket.on('error', resolve);
  });
}

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'finetune-hostile-'));
  let deadline = Infinity;
  const running = () => Date.now() < deadline;
  let server;
  try {
    const basePath = trainTinyExport(work, { imageSize: 32, epochs: 2, name: 'hostile' });
    server = await startServer(basePath);
    const predictUrl = `${server.url}/v1/models/${server.model}:predict`;
    const labelsUrl = `${server.url}/v1/models/${server.model}:labels`;
    const label = fs.readdirSync(samples).sort()[0];
    const png = fs.readFileSync(path.join(samples, label, fs.readdirSync(path.join(samples, label)).sort()[0]));
    const pixels = Array.from({ length: 32 }, (_, y) => Array.from({ length: 32 }, (_, x) => [(x * 8) % 256, (y * 8) % 256, 128]));
    const goodBodies = [JSON.stringify({ instances: [pixels] }), JSON.stringify({ instances: [{ b64: png.toString('base64') }] })];
    const expected = [];
    for (const body of goodBodies) expected.push((await post(predictUrl, body, 'application/json')).text);
    log('making hostile bodies');
    const huge = Array.from({ length: 1100 }, () => Array.from({ length: 1100 }, () => [255, 128, 0]));
    const hugeJson = JSON.stringify({ instances: [huge] });
    const many = JSON.stringify({ instances: new Array(64).fill(pixels) });
    const [tooManyPixels, atTheLimit] = [await heavyPng(6000), await heavyPng(4000)];
    const hostile = [
      () => post(predictUrl, hugeJson, 'application/json'),
      () => post(predictUrl, many, 'application/json'),
      () => post(labelsUrl, tooManyPixels, 'image/png'),
      () => post(labelsUrl, atTheLimit, 'image/png'),
    ];
    const malformed = [
      () => post(predictUrl, '{"instances": [', 'application/json'),
      () => post(predictUrl, JSON.stringify({ instances: [[[1, 2, 3]]] }), 'application/json'),
      () => post(predictUrl, JSON.stringify({ instances: [{ b64: Buffer.from('not an image').toString('base64') }] }), 'application/json'),
      () => post(labelsUrl, 'a,b', 'text/csv'),
      () => brokenHttp(server.port).then(() => ({ status: -1 })),
    ];
    const baselineRss = rssMiB(server.child.pid, 'VmRSS');
    // The same probe without load first: on a shared machine, scheduling alone delays answers.
    const atRest = [];
    for (let i = 0; i < 60; i++) {
      const started = performance.now();
      await fetch(`${server.url}/healthz`);
      atRest.push(performance.now() - started);
      await sleep(50);
    }
    await eventLoopDelayMs(server.url); // resets the server's histogram: the next scrape covers the load only
    log(`server RSS at rest ${baselineRss.toFixed(0)} MiB; load for at most ${maxSeconds} s`);
    deadline = Date.now() + maxSeconds * 1000;

    const prober = await startProber(server.url, server.child.pid);
    // After the prober started: a thread starts at its creator's nice value, and only this one is lowered.
    os.setPriority(process.pid, Math.min(19, os.getPriority(process.pid) + clientNice));
    const httpThreadBefore = schedMs(mainThreadSchedstat(server.child.pid));
    const ticksBefore = { server: threadTicks(server.child.pid), loadGenerator: threadTicks(process.pid) };

    const good = { sent: 0, ok: 0, lost: [], retries: 0, latencyMs: [] };
    const goodClient = async (client) => {
      for (let i = 0; i < goodRequests && running(); i++) {
        const which = (client + i) % 2;
        good.sent += 1;
        const started = performance.now();
        let answer;
        for (let attempt = 0; attempt < 30 && running(); attempt++) {
          answer = await post(predictUrl, goodBodies[which], 'application/json');
          if (answer.status !== 503) break;
          good.retries += 1;
          await sleep(Math.min(2000, (answer.retryAfter || 1) * 1000));
        }
        if (answer?.status === 200 && answer.text === expected[which]) {
          good.ok += 1;
          good.latencyMs.push(performance.now() - started);
        } else good.lost.push({ status: answer?.status, text: answer?.text.slice(0, 200) });
      }
    };
    const statuses = { hostile: {}, malformed: {} };
    const count = (kind, status) => (statuses[kind][status] = (statuses[kind][status] ?? 0) + 1);
    const hostileClient = async (client) => {
      for (let i = 0; i < hugeRequests && running(); i++) count('hostile', (await hostile[(client + i) % hostile.length]()).status);
    };
    const malformedClient = async () => {
      for (let i = 0; i < 40 && running(); i++) {
        count('malformed', (await malformed[i % malformed.length]()).status);
        await sleep(20);
      }
    };
    const started = Date.now();
    await Promise.all([
      ...Array.from({ length: goodClients }, (_, c) => goodClient(c)),
      ...Array.from({ length: hugeClients }, (_, c) => hostileClient(c)),
      malformedClient(),
      malformedClient(),
    ]);
    const seconds = (Date.now() - started) / 1000;
    const httpThreadAfter = schedMs(mainThreadSchedstat(server.child.pid));
    // Before the prober's thread ends.
    const cpuSeconds = { server: cpuSecondsSince(server.child.pid, ticksBefore.server), loadGenerator: cpuSecondsSince(process.pid, ticksBefore.loadGenerator) };
    const { health, rss, nice: proberNice } = await prober.stop();
    const serverEventLoopDelayMs = await eventLoopDelayMs(server.url);
    const peakRss = rssMiB(server.child.pid, 'VmHWM');
    const healthMs = health.map((h) => h.ms);
    const report = {
      server: 'finetune serve with its default limits (serve.* in src/config/schema.ts), wasm backend, tiny 32x32 export',
      machine: { cpus: os.cpus().length, loadAverage: os.loadavg() },
      seconds,
      abandonedAtDeadline: !running(),
      good: {
        sent: good.sent,
        ok: good.ok,
        lost: good.lost.length,
        lostExamples: good.lost.slice(0, 3),
        retriesAfter503: good.retries,
        latencyMs: { p50: percentile(good.latencyMs, 50), p99: percentile(good.latencyMs, 99), max: Math.max(...good.latencyMs) },
      },
      hostileStatuses: statuses.hostile,
      malformedStatuses: statuses.malformed,
      healthzAtRest: { probes: atRest.length, ms: { p50: percentile(atRest, 50), p99: percentile(atRest, 99), max: Math.max(...atRest) }, over100ms: atRest.filter((ms) => ms > 100).length },
      healthz: {
        probes: health.length,
        failed: health.filter((h) => h.status !== 200).length,
        ms: { p50: percentile(healthMs, 50), p99: percentile(healthMs, 99), max: Math.max(...healthMs) },
        over100ms: healthMs.filter((ms) => ms > 100).length,
        slowest: [...health].sort((a, b) => b.ms - a.ms).slice(0, 3).map(({ at, status: _status, ...probe }) => ({ atSecond: (at - started) / 1000, ...probe })),
      },
      serverEventLoopDelayMs,
      serverHttpThreadMs: { running: httpThreadAfter.running - httpThreadBefore.running, waitingForCore: httpThreadAfter.waiting - httpThreadBefore.waiting },
      cpuSecondsByThreadAndNice: cpuSeconds,
      nice: { serverThreads: threadNices(server.child.pid), prober: proberNice, loadGenerator: os.getPriority(process.pid) },
      rssMiB: { atRest: baselineRss, maxSampled: Math.max(...rss), peak: peakRss, afterLoad: rssMiB(server.child.pid, 'VmRSS') },
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    if (server) {
      server.child.kill('SIGTERM');
      const code = await server.exited;
      if (code !== 0) log(`serve exited ${code}:\n${server.stderr()}`);
    }
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
