import type { ExportMetadata } from '../export/export-metadata';
import type { DecodeOptions, ImageDecoder } from './image-decoder';

/**
 * How images enter the model, made once per job (the base stage) and passed whole: the decoder
 * reads its size, fit and pixel limit, the frozen runner its size, the feature cache its
 * `preprocessing`, and the export writes it as metadata.input, which predict and serve decode by.
 */
export interface InputContract extends DecodeOptions {
  channels: 3;
  /** Raw RGB values the exported model takes; normalization to the base's range is inside the model. */
  range: [0, 255];
  /** The decoder's description of this resize (part of every feature-cache key and of metadata.input). */
  preprocessing: string;
}

export function inputContract(decode: DecodeOptions, decoder: ImageDecoder): InputContract {
  return { ...decode, channels: 3, range: [0, 255], preprocessing: decoder.describe(decode) };
}

/** The contract as the export's metadata.input records it. */
export function exportedInput(input: InputContract): ExportMetadata['input'] {
  return {
    height: input.size,
    width: input.size,
    channels: input.channels,
    range: input.range,
    resize: { fit: input.fit, kernel: 'lanczos3', decoder: input.preprocessing },
  };
}
