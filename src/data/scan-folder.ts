import fs from 'node:fs';
import path from 'node:path';
import { DataError } from '../errors';
import type { ImageFile, SkippedFile, SplitName } from './dataset';

export interface ScannedFolder {
  layout: 'folders' | 'split-folders';
  files: ImageFile[];
  skipped: SkippedFile[];
}

const splitNames: SplitName[] = ['train', 'val', 'test'];
const isHidden = (name: string) => name.startsWith('.');

function listDir(dir: string): fs.Dirent[] {
  return fs.readdirSync(dir, { withFileTypes: true }).filter((entry) => !isHidden(entry.name)).sort((a, b) => (a.name < b.name ? -1 : 1));
}

function scanClassFolders(dir: string, givenSplit: SplitName | undefined, files: ImageFile[], skipped: SkippedFile[]): void {
  for (const entry of listDir(dir)) {
    const full = path.join(dir, entry.name);
    if (!entry.isDirectory()) {
      skipped.push({ path: full, reason: 'file outside a class folder (expected DIR/<class>/<image>)' });
      continue;
    }
    for (const item of listDir(full)) {
      const file = path.join(full, item.name);
      if (item.isFile() || item.isSymbolicLink()) files.push({ path: file, label: entry.name, ...(givenSplit ? { givenSplit } : {}) });
      else skipped.push({ path: file, reason: 'nested folder inside a class folder (images must sit directly in DIR/<class>/)' });
    }
  }
}

/** Finds the image files of DIR/<class>/* or DIR/{train,val[,test]}/<class>/*. */
export function scanFolder(root: string): ScannedFolder {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch {
    throw new DataError(`Data folder ${root} does not exist. Expected a folder with one subfolder per class (DIR/<class>/*.jpg).`);
  }
  if (!stat.isDirectory()) throw new DataError(`Data path ${root} is a file. Expected a folder with one subfolder per class.`);

  const top = listDir(root);
  const topFolders = top.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  const files: ImageFile[] = [];
  const skipped: SkippedFile[] = [];
  const layout = topFolders.includes('train') && (topFolders.includes('val') || topFolders.includes('test')) ? 'split-folders' : 'folders';
  if (layout === 'split-folders') {
    for (const entry of top) {
      if (entry.isDirectory() && (splitNames as string[]).includes(entry.name)) {
        scanClassFolders(path.join(root, entry.name), entry.name as SplitName, files, skipped);
      } else {
        skipped.push({ path: path.join(root, entry.name), reason: 'not one of train/, val/, test/' });
      }
    }
  } else {
    scanClassFolders(root, undefined, files, skipped);
  }
  if (files.length === 0) {
    throw new DataError(
      `Data folder ${root} holds no images in class folders (found ${top.length} entries at its top). ` +
        'Expected DIR/<class>/<image> or DIR/{train,val}/<class>/<image>.',
    );
  }
  return { layout, files, skipped };
}
