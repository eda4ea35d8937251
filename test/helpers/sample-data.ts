import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../src/package-root';

export const sampleDir = path.join(packageRoot, 'models', 'samples', 'fashion-mnist');
export const sampleTestDir = path.join(packageRoot, 'models', 'samples', 'fashion-mnist-test');

const created: string[] = [];

/** A fresh folder under the OS temp dir, removed when the test process exits. */
export function temporaryDir(prefix: string): string {
  if (created.length === 0) process.once('exit', () => created.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `finetune-${prefix}-`));
  created.push(dir);
  return dir;
}

/** A small copy of the embedded sample: the first `perClass` images of the first `classes` classes. */
export function copySample(options: { classes: number; perClass: number; from?: string }): string {
  const from = options.from ?? sampleDir;
  const target = temporaryDir('data');
  for (const label of fs.readdirSync(from).sort().slice(0, options.classes)) {
    fs.mkdirSync(path.join(target, label));
    for (const file of fs.readdirSync(path.join(from, label)).sort().slice(0, options.perClass)) {
      fs.copyFileSync(path.join(from, label, file), path.join(target, label, file));
    }
  }
  return target;
}
