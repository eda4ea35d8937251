import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ExportMetadata } from './export-metadata';

export interface WriteExportArgs {
  outDir: string;
  name: string;
  /** Writes model.json and its weights into the folder; what it returns is added to metadata.json. */
  writeModel: (dir: string) => Promise<void | Partial<ExportMetadata>>;
  metadata: Omit<ExportMetadata, 'version'>;
  /** Called on the finished files before they become a version; throws to abandon them. */
  verify: (dir: string) => Promise<void>;
}

/**
 * Version folders under <out>/<name>/: number -> folder name. Like TF Serving, a name of digits is a
 * version whatever its zero padding ("0003" is version 3); when two names mean one number, the
 * unpadded one wins, else the first in order.
 */
export function versionFolders(modelBaseDir: string): Map<number, string> {
  if (!fs.existsSync(modelBaseDir)) return new Map();
  const names = fs
    .readdirSync(modelBaseDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && /^\d+$/.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  const folders = new Map<number, string>();
  for (const name of names) {
    const version = Number(name);
    if (!folders.has(version) || name === String(version)) folders.set(version, name);
  }
  return new Map([...folders].sort(([a], [b]) => a - b));
}

/** Version numbers present under <out>/<name>/ (numeric folder names only), ascending. */
export function listVersions(modelBaseDir: string): number[] {
  return [...versionFolders(modelBaseDir).keys()];
}

/** The folder of one version, or undefined when there is none. */
export function versionDir(modelBaseDir: string, version: number): string | undefined {
  const name = versionFolders(modelBaseDir).get(version);
  return name === undefined ? undefined : path.join(modelBaseDir, name);
}

/**
 * Writes <out>/<name>/<version>/ atomically: everything goes to a hidden temporary folder,
 * is verified, and only then renamed to the next free version number. A crash leaves at most
 * a hidden .incomplete-* folder, never a half-written version; versions are never overwritten.
 */
export async function writeExport(args: WriteExportArgs): Promise<{ dir: string; version: number }> {
  const modelBaseDir = path.join(args.outDir, args.name);
  fs.mkdirSync(modelBaseDir, { recursive: true });
  // Not mkdtemp: its 0700 would keep a server running as another user out. mkdir honours the umask (0755 under 022).
  const temporary = path.join(modelBaseDir, `.incomplete-${randomBytes(6).toString('hex')}`);
  fs.mkdirSync(temporary);
  try {
    const measured = await args.writeModel(temporary);
    fs.writeFileSync(path.join(temporary, 'labels.txt'), `${args.metadata.labels.join('\n')}\n`);
    for (let attempt = 0; ; attempt++) {
      const version = (listVersions(modelBaseDir).at(-1) ?? 0) + 1;
      const metadata: ExportMetadata = { ...args.metadata, ...(measured ?? {}), version };
      fs.writeFileSync(path.join(temporary, 'metadata.json'), `${JSON.stringify(metadata, null, 2)}\n`);
      if (attempt === 0) await args.verify(temporary);
      const dir = path.join(modelBaseDir, String(version));
      try {
        fs.renameSync(temporary, dir);
        return { dir, version };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // Another run took this version number in the meantime: take the next one.
        if ((code === 'ENOTEMPTY' || code === 'EEXIST') && attempt < 100) continue;
        throw error;
      }
    }
  } catch (error) {
    fs.rmSync(temporary, { recursive: true, force: true });
    throw error;
  }
}
