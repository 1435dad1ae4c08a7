/**
 * mulberry32: a tiny, fast, deterministic 32-bit PRNG, uniform floats in [0, 1). Used where
 * results must be reproducible from a seed (bootstrap resampling, dataset splits, benchmark data).
 * Not for anything secret.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle of the first `n` items of `a`, in place, drawing from `rand`. */
export function shuffle<T>(a: { [i: number]: T; length: number }, rand: () => number, n = a.length): void {
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}
