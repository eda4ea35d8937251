import fs from 'node:fs';
import path from 'node:path';
import { DataError } from '../errors';
import type { ImageFile, SkippedFile, SplitName } from './dataset';
import { describeFileType } from './read-image-file';

/** A class folder found in the data folder, whether or not it holds files. */
export interface ClassFolder {
  path: string;
  label: string;
  givenSplit?: SplitName;
}

export interface ScannedFolder {
  layout: 'folders' | 'split-folders';
  files: ImageFile[];
  skipped: SkippedFile[];
  classFolders: ClassFolder[];
}

interface Entry {
  /** The name as text; replacement characters stand for bytes that are not UTF-8. */
  name: string;
  /** Raw name bytes when they are not valid UTF-8. */
  invalidBytes?: Buffer;
  dirent: fs.Dirent<Buffer>;
}

const splitNames: SplitName[] = ['train', 'val', 'test'];
const isHidden = (name: string) => name.startsWith('.');
/** Characters a label cannot hold: it is one line of labels.txt and a JSON string clients display. */
const controlCharacter = /[\u0000-\u001f\u007f]/;

const hexBytes = (bytes: Buffer) => [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');

function describeInvalidName(entry: Entry): string {
  return `${JSON.stringify(entry.name)} (bytes ${hexBytes(entry.invalidBytes!)})`;
}

/** A folder's visible entries, sorted; names are read as bytes so that non-UTF-8 names are recognised, not mangled. */
function listDir(dir: string, what: string): Entry[] {
  let dirents: fs.Dirent<Buffer>[];
  try {
    dirents = fs.readdirSync(dir, { withFileTypes: true, encoding: 'buffer' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new DataError(
      `Cannot read the ${what} ${dir} (${code}). Expected a folder this user can list and read; ` +
        `fix its permissions (e.g. chmod -R a+rX '${dir}') or move it out of the data folder.`,
    );
  }
  return dirents
    .map((dirent): Entry => {
      const name = dirent.name.toString('utf8');
      return Buffer.from(name, 'utf8').equals(dirent.name) ? { name, dirent } : { name, invalidBytes: dirent.name, dirent };
    })
    .filter((entry) => !isHidden(entry.name))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The class name a folder gives, refused when it cannot be a label. */
function classLabel(entry: Entry, dir: string): string {
  const where = path.join(dir, entry.name);
  if (entry.invalidBytes) {
    throw new DataError(
      `Class folder name ${describeInvalidName(entry)} in ${dir} is not valid UTF-8. Expected a UTF-8 name: it becomes a label in labels.txt and JSON. ` +
        'Rename the folder (e.g. convmv -f latin1 -t utf8 -r --notest DIR).',
    );
  }
  if (controlCharacter.test(entry.name)) {
    throw new DataError(
      `Class folder name ${JSON.stringify(entry.name)} (${where}) contains a control character such as a newline. ` +
        'Expected a name on one line: it becomes one line of labels.txt. Rename the folder.',
    );
  }
  return entry.name;
}

/** Why a class folder entry is not an image file, or undefined when it is a regular file (links resolved). */
function notAnImageFile(entry: Entry, file: string): string | undefined {
  if (entry.invalidBytes) return `file name ${describeInvalidName(entry)} is not valid UTF-8; rename the file to use it`;
  if (entry.dirent.isFile()) return undefined;
  if (entry.dirent.isDirectory()) return 'nested folder inside a class folder (images must sit directly in DIR/<class>/)';
  let target: fs.Stats;
  try {
    target = fs.statSync(file);
  } catch (error) {
    return `${entry.dirent.isSymbolicLink() ? 'broken link' : 'unreadable'}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
  if (target.isFile()) return undefined;
  if (target.isDirectory()) return 'link to a folder inside a class folder (images must sit directly in DIR/<class>/)';
  return `${entry.dirent.isSymbolicLink() ? 'link to ' : ''}${describeFileType(target)}, not a regular image file`;
}

function scanClassFolders(dir: string, givenSplit: SplitName | undefined, scanned: Omit<ScannedFolder, 'layout'>): void {
  for (const entry of listDir(dir, givenSplit ? `${givenSplit}/ folder` : 'data folder')) {
    const full = path.join(dir, entry.name);
    if (!entry.dirent.isDirectory()) {
      scanned.skipped.push({ path: full, reason: 'file outside a class folder (expected DIR/<class>/<image>)' });
      continue;
    }
    const label = classLabel(entry, dir);
    scanned.classFolders.push({ path: full, label, ...(givenSplit ? { givenSplit } : {}) });
    for (const item of listDir(full, 'class folder')) {
      const file = path.join(full, item.name);
      const reason = notAnImageFile(item, file);
      if (reason) scanned.skipped.push({ path: file, reason });
      else scanned.files.push({ path: file, label, ...(givenSplit ? { givenSplit } : {}) });
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

  const top = listDir(root, 'data folder');
  const topFolders = top.filter((entry) => entry.dirent.isDirectory()).map((entry) => entry.name);
  const scanned: Omit<ScannedFolder, 'layout'> = { files: [], skipped: [], classFolders: [] };
  const layout = topFolders.includes('train') && (topFolders.includes('val') || topFolders.includes('test')) ? 'split-folders' : 'folders';
  if (layout === 'split-folders') {
    for (const entry of top) {
      if (entry.dirent.isDirectory() && (splitNames as string[]).includes(entry.name)) {
        scanClassFolders(path.join(root, entry.name), entry.name as SplitName, scanned);
      } else {
        scanned.skipped.push({ path: path.join(root, entry.name), reason: 'not one of train/, val/, test/' });
      }
    }
  } else {
    scanClassFolders(root, undefined, scanned);
  }
  if (scanned.files.length === 0) {
    throw new DataError(
      `Data folder ${root} holds no images in class folders (found ${top.length} entries at its top). ` +
        'Expected DIR/<class>/<image> or DIR/{train,val}/<class>/<image>.',
    );
  }
  return { layout, ...scanned };
}
