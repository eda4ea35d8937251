import * as tf from '@tensorflow/tfjs';
import type { ModelFiles } from './model-files';

/** A node of a tfjs GraphModel's model.json (a TensorFlow NodeDef in JSON). */
export interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, { s?: string; i?: string; f?: number; b?: boolean; list?: { i?: string[]; s?: string[] } }>;
}

/** The nodes and constant tensors of a GraphModel, read from its files without running it. */
export interface GraphContents {
  nodes: Map<string, GraphNode>;
  /** Decoded weights (dequantized), by node name; the caller disposes them. */
  constants: tf.NamedTensorMap;
}

export function readGraphContents(files: ModelFiles): GraphContents {
  const topology = files.modelJson.modelTopology as { node?: GraphNode[] };
  const nodes = new Map((topology.node ?? []).map((node) => [node.name, node]));
  return { nodes, constants: tf.io.decodeWeights(files.weightData, files.weightSpecs) };
}

/** A node input without its control-dependency mark ("^x") or output index ("x:0"). */
export function inputName(input: string): string {
  return input.replace(/^\^/, '').replace(/:\d+$/, '');
}

/** Data inputs of a node (control dependencies left out). */
export function dataInputs(node: GraphNode): string[] {
  return (node.input ?? []).filter((input) => !input.startsWith('^')).map(inputName);
}

export function stringAttr(node: GraphNode, key: string): string | undefined {
  const value = node.attr?.[key]?.s;
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

export function stringListAttr(node: GraphNode, key: string): string[] {
  return (node.attr?.[key]?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
}

export function intListAttr(node: GraphNode, key: string): number[] {
  return (node.attr?.[key]?.list?.i ?? []).map(Number);
}
