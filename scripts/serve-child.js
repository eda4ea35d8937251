/**
 * What the serving load tests share: a tiny real export trained by the CLI, and `finetune serve`
 * in a child process (the server measured apart from the clients driving it).
 */
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');

const root = path.join(__dirname, '..');
const cli = path.join(root, 'bin', 'finetune.js');
const samples = path.join(root, 'models', 'samples', 'fashion-mnist');

/** FINETUNE_* and NODE_ENV of the caller would change what runs. */
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FINETUNE_') && name !== 'NODE_ENV'));

/** Trains 3 sample classes x 12 images into <work>/exports/<name>; answers that model base path. */
function trainTinyExport(work, { imageSize, epochs, name }) {
  const data = path.join(work, 'data');
  for (const label of fs.readdirSync(samples).sort().slice(0, 3)) {
    fs.mkdirSync(path.join(data, label), { recursive: true });
    for (const file of fs.readdirSync(path.join(samples, label)).sort().slice(0, 12)) fs.copyFileSync(path.join(samples, label, file), path.join(data, label, file));
  }
  process.stderr.write(`training a tiny export (3 classes x 12 images, ${imageSize}x${imageSize}) in ${work}\n`);
  const args = ['train', '--data', data, '--env', 'test', '--image-size', String(imageSize), '--epochs', String(epochs), '--name', name];
  args.push('--out', path.join(work, 'exports'), '--cache-dir', path.join(work, 'cache'), '--runs-dir', path.join(work, 'runs'), '--json');
  const run = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (run.status !== 0) throw new Error(`train exited ${run.status}`);
  return path.dirname(JSON.parse(run.stdout).exportDir);
}

/**
 * `finetune serve` in a child process; resolves with {child, exited, stderr(), url, port, model} once it listens.
 * SERVE_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" or "--trace-gc") are given to the server's node
 * only; what they print on stdout is passed on to this process's stderr.
 */
function startServer(basePath, extraArgs = []) {
  const args = ['serve', '--model-base-path', basePath, '--env', 'test', '--port', '0', '--json', ...extraArgs];
  const nodeFlags = (process.env.SERVE_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeFlags, cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let listening = false;
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      if (listening || !line.startsWith('{')) return process.stderr.write(`${line}\n`);
      listening = true;
      resolve({ child, exited, stderr: () => stderr, ...JSON.parse(line) });
    });
    exited.then((code) => reject(new Error(`serve exited ${code}:\n${stderr}`)));
  });
}

module.exports = { root, samples, trainTinyExport, startServer };
