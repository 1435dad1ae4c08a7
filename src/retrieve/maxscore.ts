/**
 * MaxScore dynamic pruning (Turtle & Flood 1995) for the BM25 top-k: the same k documents, in the
 * same order and with the same scores, as scoring every posting — without scoring every posting.
 *
 * Each query term t has an upper bound ub(t) = w(t) · max posting weight of t (kept per term at
 * index time). Terms are ordered by ub ascending; once the heap holds k documents with threshold θ
 * (the k-th best score), the terms whose bounds sum below θ are *non-essential*: a document
 * matching only those cannot enter the top k. So documents are visited in doc-id order from the
 * essential terms' posting lists only, and a candidate's non-essential terms are looked up (by
 * galloping search in their lists) only while its score plus the bounds of the terms still
 * unchecked can beat θ.
 *
 * Exactness: a document is skipped only when an upper bound of its score is below θ by more than
 * a relative 1e-9 (rounding in partial sums can never decide); documents are visited in ascending
 * id, so one tying with θ ranks below the heap's (lower-id) documents and could not enter anyway;
 * and an admitted document's score is re-summed in the query's term order, exactly as the
 * exhaustive loop adds it (floating-point addition is order-dependent).
 */

export interface Postings {
  postStart: Int32Array;
  postDoc: Int32Array;
  postWeight: Float32Array;
  /** Largest `postWeight` of each term's list. */
  termMax: Float32Array;
}

/** Docs and scores of the top k, best first (ties: lower doc id first). */
export function maxScoreTopK(p: Postings, terms: readonly number[], weights: readonly number[], allowed: Uint8Array | undefined, k: number): { doc: number; score: number }[] {
  // Query terms with a positive weight, in query order (the exhaustive loop's summation order).
  const qTerm: number[] = [];
  const qW: number[] = [];
  for (let i = 0; i < terms.length; i++) {
    if (weights[i] > 0 && p.postStart[terms[i] + 1] > p.postStart[terms[i]]) {
      qTerm.push(terms[i]);
      qW.push(weights[i]);
    }
  }
  const m = qTerm.length;
  if (m === 0 || k <= 0) return [];
  // Order by upper bound ascending; `order[j]` is the query index of the j-th lowest bound.
  const ub = qTerm.map((t, i) => qW[i] * p.termMax[t]);
  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => ub[a] - ub[b] || a - b);
  const prefix = new Float64Array(m); // prefix[j] = Σ ub of order[0..j]
  for (let j = 0, s = 0; j < m; j++) prefix[j] = s += ub[order[j]];
  const pos = new Int32Array(m);
  const end = new Int32Array(m);
  for (let j = 0; j < m; j++) {
    pos[j] = p.postStart[qTerm[order[j]]];
    end[j] = p.postStart[qTerm[order[j]] + 1];
  }
  const { postDoc, postWeight } = p;
  const contrib = new Float64Array(m); // by query index, for the exact re-sum

  // Min-heap of the k best (worst at the root).
  const heapDoc = new Int32Array(k);
  const heapScore = new Float64Array(k);
  let size = 0;
  const worse = (i: number, j: number) => heapScore[i] < heapScore[j] || (heapScore[i] === heapScore[j] && heapDoc[i] > heapDoc[j]);
  const swap = (i: number, j: number) => {
    const d = heapDoc[i];
    heapDoc[i] = heapDoc[j];
    heapDoc[j] = d;
    const s = heapScore[i];
    heapScore[i] = heapScore[j];
    heapScore[j] = s;
  };
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let w = i;
      if (l < size && worse(l, w)) w = l;
      if (r < size && worse(r, w)) w = r;
      if (w === i) return;
      swap(i, w);
      i = w;
    }
  };
  const siftUp = (i: number) => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!worse(i, parent)) return;
      swap(i, parent);
      i = parent;
    }
  };

  let threshold = -Infinity; // the k-th best score once the heap is full
  let cut = -Infinity; // threshold minus the rounding margin
  let firstEssential = 0; // order[0..firstEssential) are non-essential
  for (;;) {
    // The next document: the smallest current doc over the essential lists.
    let d = 0x7fffffff;
    for (let j = firstEssential; j < m; j++) if (pos[j] < end[j] && postDoc[pos[j]] < d) d = postDoc[pos[j]];
    if (d === 0x7fffffff) break;
    let score = 0;
    contrib.fill(0);
    for (let j = firstEssential; j < m; j++) {
      if (pos[j] < end[j] && postDoc[pos[j]] === d) {
        const add = qW[order[j]] * postWeight[pos[j]];
        if (add > 0) {
          contrib[order[j]] = add;
          score += add;
        }
        pos[j]++;
      }
    }
    if (allowed && allowed[d] === 0) continue;
    let pruned = false;
    for (let j = firstEssential - 1; j >= 0; j--) {
      if (score + prefix[j] < cut) {
        pruned = true;
        break;
      }
      // Gallop to the first posting ≥ d.
      let lo = pos[j];
      const hi0 = end[j];
      if (lo < hi0 && postDoc[lo] < d) {
        let step = 1;
        let hi = lo + 1;
        while (hi < hi0 && postDoc[hi] < d) {
          lo = hi;
          step *= 2;
          hi = lo + step;
        }
        if (hi > hi0) hi = hi0;
        // postDoc[lo] < d; first ≥ d lies in (lo, hi].
        let a = lo + 1;
        let b = hi;
        while (a < b) {
          const mid = (a + b) >> 1;
          if (postDoc[mid] < d) a = mid + 1;
          else b = mid;
        }
        lo = a;
      }
      pos[j] = lo;
      if (lo < hi0 && postDoc[lo] === d) {
        const add = qW[order[j]] * postWeight[lo];
        if (add > 0) {
          contrib[order[j]] = add;
          score += add;
        }
      }
    }
    if (pruned || score <= 0) continue;
    // The exact score: the exhaustive loop's sum, in query term order.
    let exact = 0;
    for (let i = 0; i < m; i++) if (contrib[i] > 0) exact += contrib[i];
    if (size < k) {
      heapDoc[size] = d;
      heapScore[size] = exact;
      siftUp(size++);
    } else if (exact > heapScore[0]) {
      heapDoc[0] = d;
      heapScore[0] = exact;
      siftDown(0);
    } else continue;
    if (size === k) {
      threshold = heapScore[0];
      cut = threshold - Math.abs(threshold) * 1e-9;
      while (firstEssential < m && prefix[firstEssential] < cut) firstEssential++;
    }
  }
  const out: { doc: number; score: number }[] = [];
  for (let i = 0; i < size; i++) out.push({ doc: heapDoc[i], score: heapScore[i] });
  return out.sort((a, b) => b.score - a.score || a.doc - b.doc);
}
