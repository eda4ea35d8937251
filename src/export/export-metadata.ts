import type { Plan } from '../policy/plan';

/** metadata.json of an export (DESIGN.md); other tools read these keys. */
export interface ExportMetadata {
  formatVersion: 1;
  /** model.json's kind: a LayersModel, or a GraphModel when the base was one. */
  format: 'layers-model' | 'graph-model';
  name: string;
  version: number;
  labels: string[];
  input: {
    height: number;
    width: number;
    channels: 3;
    /** Pixel values the model takes: raw RGB. */
    range: [0, 255];
    resize: { fit: 'cover' | 'contain'; kernel: 'lanczos3'; decoder: string };
  };
  /** hubPath and twin: the base is a trainable twin of the TF Hub GraphModel at hubPath (sha256 is that download's). */
  base: { id: string; source: string; sha256: string; inputRange: [number, number]; hubPath?: string; twin?: string };
  plan: Plan;
  metrics: { val: { accuracy: number; loss: number; n: number }; test?: { accuracy: number; loss: number; n: number } };
  /** One entry per phase (head; then fine-tune for top/deep): schedule, per-epoch history, best epoch. */
  training: { phases: { name: string; schedule: Record<string, unknown>; history: unknown[]; bestEpoch: number; imagesPerSecond: number }[] };
  backend: { name: string; reason: string };
  /** Present when the weights were quantized (export.quantize): sizes, and validation accuracy before and after. */
  quantization?: ExportQuantization;
  config: unknown;
  versions: Record<string, string>;
  createdAt: string;
}

/** What quantizing an export's weights cost and saved, measured on the validation split. */
export interface ExportQuantization {
  dtype: 'float16' | 'uint8';
  bytes: { float32: number; quantized: number; ratio: number };
  /** Accuracy of the float32 model and of the quantized files reloaded from disk, on the same images. */
  accuracy: { float32: number; quantized: number; change: number; n: number };
}
