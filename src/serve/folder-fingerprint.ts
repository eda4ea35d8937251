import fs from 'node:fs';
import path from 'node:path';

/**
 * What a version folder looks like on disk: its inode and each file's name, inode, size and
 * modification time. It changes when a copy completes, when a folder is replaced by another under
 * the same number, or when any file is rewritten: a version is identified by more than its number.
 * Undefined when the folder cannot be read.
 */
export function folderFingerprint(dir: string): string | undefined {
  try {
    const folder = fs.statSync(dir);
    const files = fs
      .readdirSync(dir)
      .sort()
      .map((name) => {
        const stat = fs.statSync(path.join(dir, name));
        return `${name}:${stat.ino}:${stat.size}:${stat.mtimeMs}`;
      });
    return [`${folder.ino}`, ...files].join('|');
  } catch {
    return undefined;
  }
}
