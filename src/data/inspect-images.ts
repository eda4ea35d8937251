import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import type { DecodeOptions, ImageDecoder } from '../preprocess/image-decoder';
import type { ImageFile, ImageRecord, SkippedFile } from './dataset';
import { readImageFile } from './read-image-file';

export interface InspectedImages {
  records: ImageRecord[];
  skipped: SkippedFile[];
}

/** Side of the throwaway decode that proves a file is a whole, readable image. */
const checkSize = 32;

/**
 * Reads, hashes and fully decodes every file before anything trains, so that a bad file is
 * reported and skipped up front rather than failing mid-run. Exact duplicates within a class
 * are kept once.
 */
export async function inspectImages(
  files: ImageFile[],
  decoder: ImageDecoder,
  options: Pick<DecodeOptions, 'fit' | 'maxInputPixels'> & { concurrency: number; onInspected?: (done: number) => void },
  knownGood: (sha256: string) => boolean = () => false,
): Promise<InspectedImages> {
  const limit = pLimit(options.concurrency);
  let done = 0;
  const counted = <T>(result: T): T => {
    options.onInspected?.(++done);
    return result;
  };
  const results = await Promise.all(
    files.map((file) =>
      limit(async (): Promise<ImageRecord | SkippedFile> => {
        let bytes: Buffer;
        try {
          bytes = await readImageFile(file.path);
        } catch (error) {
          return { path: file.path, reason: (error as Error).message };
        }
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        if (!knownGood(sha256)) {
          try {
            await decoder.decode(bytes, { size: checkSize, fit: options.fit, maxInputPixels: options.maxInputPixels });
          } catch (error) {
            return { path: file.path, reason: (error as Error).message };
          }
        }
        return { ...file, sha256 };
      }).then(counted),
    ),
  );
  const records: ImageRecord[] = [];
  const skipped: SkippedFile[] = [];
  const seen = new Map<string, string>();
  for (const result of results) {
    if ('reason' in result) {
      skipped.push(result);
      continue;
    }
    const key = `${result.givenSplit ?? ''}/${result.label}/${result.sha256}`;
    const first = seen.get(key);
    if (first) skipped.push({ path: result.path, reason: `duplicate of ${first} (same bytes, same class)` });
    else {
      seen.set(key, result.path);
      records.push(result);
    }
  }
  return { records, skipped };
}
