import fs from 'node:fs';
import path from 'node:path';

/** The folder holding this package's package.json, wherever the code runs from (src or dist). */
function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'finetune-pipeline') {
      return dir;
    }
    if (path.dirname(dir) === dir) throw new Error(`finetune-pipeline's package.json not found above ${start}`);
  }
}

export const packageRoot = findPackageRoot(__dirname);
