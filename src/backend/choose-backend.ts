import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors';
import { registerTrainingKernels } from './training-kernels';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendPreference = BackendName | 'auto';

export interface BackendChoice {
  name: BackendName;
  /** The tfjs backend registered under that name ("tensorflow" for both native packages). */
  tfjsBackend: string;
  reason: string;
}

const nativePackages: Record<'tensorflow-gpu' | 'tensorflow', string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

/** Loading a native package registers the "tensorflow" backend; it fails where the package did not install. */
function loadNative(name: 'tensorflow-gpu' | 'tensorflow'): string | undefined {
  try {
    require(nativePackages[name]);
    return undefined;
  } catch (error) {
    return `${nativePackages[name]} is not installed (${(error as Error).message.split('\n')[0]})`;
  }
}

async function activate(tfjsBackend: string): Promise<boolean> {
  if (tfjsBackend === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  try {
    return (await tf.setBackend(tfjsBackend)) && tf.getBackend() === tfjsBackend;
  } catch {
    return false;
  }
}

let current: BackendChoice | undefined;

/**
 * Picks the fastest backend that works here: tfjs-node-gpu, tfjs-node, wasm, then cpu.
 * A forced preference that cannot be had is an error, not a silent fallback.
 */
export async function chooseBackend(preference: BackendPreference): Promise<BackendChoice> {
  if (current && (preference === 'auto' || preference === current.name)) return current;
  const candidates: BackendName[] = preference === 'auto' ? ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] : [preference];
  const skipped: string[] = [];
  for (const name of candidates) {
    if (name === 'tensorflow-gpu' || name === 'tensorflow') {
      const missing = loadNative(name);
      if (missing) {
        skipped.push(missing);
        continue;
      }
    }
    const tfjsBackend = name === 'tensorflow-gpu' ? 'tensorflow' : name;
    if (!(await activate(tfjsBackend))) {
      skipped.push(`the ${name} backend failed to initialize`);
      continue;
    }
    const reason =
      preference === 'auto'
        ? skipped.length > 0
          ? `fastest available: ${skipped.join('; ')}`
          : 'fastest available'
        : 'forced by configuration (backend)';
    // Gradients through convolutions: registered where missing (wasm), replaced where slow (cpu).
    if (name === 'wasm' || name === 'cpu') registerTrainingKernels(name);
    current = { name, tfjsBackend, reason };
    return current;
  }
  throw new ConfigError(`Received backend=${preference}, which is not available here: ${skipped.join('; ')}. Use --backend auto, wasm or cpu.`);
}
