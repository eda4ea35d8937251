/** A seeded generator of numbers in [0, 1) whose state can be saved and put back (checkpoints). */
export interface SeededRandom {
  (): number;
  /** The generator's whole state: a 32-bit unsigned integer. */
  getState(): number;
  setState(state: number): void;
}

/** mulberry32: a small, fast, seedable PRNG, so shuffles and dropout masks repeat with the seed. */
export function seededRandom(seed: number): SeededRandom {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Object.assign(next, {
    getState: () => state,
    setState: (saved: number) => {
      if (!Number.isInteger(saved) || saved < 0 || saved > 0xffffffff) {
        throw new Error(`Received random state ${saved}. Expected an integer in [0, 2^32).`);
      }
      state = saved;
    },
  });
}

/** Fisher-Yates shuffle of 0..n-1. */
export function shuffledIndices(n: number, random: () => number): number[] {
  const indices = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [indices[i], indices[j]] = [indices[j], indices[i]];
  }
  return indices;
}
