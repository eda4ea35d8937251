import fs from 'node:fs';

/** Largest image file read: far above any photo, far below what would exhaust memory with several in flight. */
export const maxImageFileBytes = 256 * 2 ** 20;

/** A file that is not read, and why (e.g. "a FIFO, not a regular file"). */
export class UnreadableImageFile extends Error {}

/** What a non-regular file is, in words. */
export function describeFileType(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The bytes of an image file: links are followed, then only a regular file of at most maxBytes is read.
 * The file is opened without blocking (a FIFO would otherwise wait for a writer forever) and checked on
 * the open descriptor, so what is checked is what is read. Throws UnreadableImageFile with the reason.
 */
export async function readImageFile(file: string, maxBytes = maxImageFileBytes): Promise<Buffer> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (error) {
    throw new UnreadableImageFile(`unreadable: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new UnreadableImageFile(`${describeFileType(stat)}, not a regular image file`);
    if (stat.size > maxBytes) {
      throw new UnreadableImageFile(`${stat.size} bytes, above the limit of ${maxBytes} bytes for one image file (re-encode it smaller or remove it)`);
    }
    // Room for one byte more than announced, so that a file growing while it is read is caught.
    const buffer = Buffer.alloc(stat.size + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) break;
    }
    if (length !== stat.size) throw new UnreadableImageFile(`changed while it was read (${stat.size} bytes when opened, ${length === buffer.length ? 'more' : length} read)`);
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}
