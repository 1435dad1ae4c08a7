/**
 * The sentence-embedding block of the classifier's features: a dense vector (one per text, from
 * the configured encoder, e.g. use-lite's 512 dims) appended after the sparse tf-idf features.
 *
 * Both parts are unit length before they are joined (the tf-idf vector is L2-normalised by the
 * vectorizer; the embedding is normalised here), the dense part is scaled by `weight`, and the
 * joined vector is L2-normalised again — the same "each block has its say, then one norm" rule as
 * the word and character blocks. Dense feature j has index `offset + j` (offset = vocabulary size),
 * so the linear solvers and the weight layout need no change.
 */
import type { SparseMatrix, SparseVector } from "./features.ts";

/** `sparse` with `dense` appended at indices offset … offset + dense.length − 1. */
export function appendDense(sparse: SparseVector, dense: Float32Array, offset: number, weight: number): SparseVector {
  let dn = 0;
  for (let j = 0; j < dense.length; j++) dn += dense[j] * dense[j];
  let sn = 0;
  for (let k = 0; k < sparse.values.length; k++) sn += sparse.values[k] * sparse.values[k];
  const ds = dn > 0 ? weight / Math.sqrt(dn) : 0;
  const total = sn + (dn > 0 ? weight * weight : 0);
  const s = total > 0 ? 1 / Math.sqrt(total) : 0;
  const n = sparse.indices.length;
  const indices = new Int32Array(n + dense.length);
  const values = new Float32Array(n + dense.length);
  indices.set(sparse.indices);
  for (let k = 0; k < n; k++) values[k] = sparse.values[k] * s;
  for (let j = 0; j < dense.length; j++) {
    indices[n + j] = offset + j;
    values[n + j] = dense[j] * ds * s;
  }
  return { indices, values };
}

/** Rows → one CSR matrix. */
export function toCsr(rows: readonly SparseVector[]): SparseMatrix {
  const offsets = new Int32Array(rows.length + 1);
  for (let i = 0; i < rows.length; i++) offsets[i + 1] = offsets[i] + rows[i].indices.length;
  const indices = new Int32Array(offsets[rows.length]);
  const values = new Float32Array(offsets[rows.length]);
  for (let i = 0; i < rows.length; i++) {
    indices.set(rows[i].indices, offsets[i]);
    values.set(rows[i].values, offsets[i]);
  }
  return { rows: rows.length, offsets, indices, values };
}

/**
 * Checks that every example carries an embedding of one length; returns that length. The message
 * names what to do, because a missing vector means the caller skipped the encoder.
 */
export function denseDims(examples: readonly { vector?: Float32Array }[], encoder: string, where: string): number {
  let dims = -1;
  for (let i = 0; i < examples.length; i++) {
    const v = examples[i].vector;
    if (!v) throw new Error(`classifier (encoder ${encoder}): ${where} example ${i + 1} has no sentence embedding; embed the texts first (embedLabelled in classifier/encoded.ts)`);
    if (dims < 0) dims = v.length;
    else if (v.length !== dims) throw new Error(`classifier (encoder ${encoder}): ${where} example ${i + 1} has a ${v.length}-dimensional embedding, expected ${dims}`);
  }
  return Math.max(0, dims);
}
