import type { ExportMetadata } from '../export/export-metadata';

/** Sequences of two or more /segments: a file path on the server's disk. */
const absolutePath = /(?<![\w.])(?:\/[^\s/:'"(),]+){2,}\/?/g;

/** A message for a client: file paths on the server's disk become "<path>". */
export function withoutAbsolutePaths(message: string): string {
  return message.replace(absolutePath, '<path>');
}

/**
 * What /metadata shows a client: the export's contract (labels, input, base, plan, metrics, training,
 * quantization, versions, createdAt), without the resolved configuration with its origins and paths,
 * and without where the base model was read from when that was a folder on the server.
 */
export function publicMetadata(metadata: ExportMetadata): Omit<ExportMetadata, 'config'> {
  const { config: _config, ...rest } = metadata;
  const source = /^(https?:|npm:|nsfwjs|@)/.test(metadata.base.source) ? metadata.base.source : withoutAbsolutePaths(metadata.base.source);
  return { ...rest, base: { ...metadata.base, source } };
}
