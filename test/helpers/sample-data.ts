import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../src/package-root';

export const sampleDir = path.join(packageRoot, 'models', 'samples', 'fashion-mnist');
export const sampleTestDir = path.join(packageRoot, 'models', 'samples', 'fashion-mnist-test');

export function temporaryDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `finetune-${prefix}-`));
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
