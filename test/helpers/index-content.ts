/**
 * What an index holds, for comparing a queued ingest with a local one (test/ingest-queue.test.ts,
 * bench/ingest-queue.ts): the store's content fingerprint, every field of every document (except
 * `ingestedAt`, a clock reading) and chunk, and every vector of the embedder, hashed.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { loadConfig } from "../../src/config/index.ts";
import { openProject } from "../../src/pipeline/index.ts";
import { openVectorStore } from "../../src/store/vectors.ts";

export interface IndexContent {
  fingerprint: string;
  documents: unknown[];
  chunks: unknown[];
  /** sha256 of the embedder's vectors (ids and float32 bytes), "" without an embedder. */
  vectors: string;
  vectorCount: number;
}

export function indexContent(root: string): IndexContent {
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  try {
    const store = project.store as unknown as { identity(): { identity: { fingerprint: string } } };
    const documents = project.store.documents().map(({ ingestedAt: _at, ...d }) => d);
    const chunks = project.store.chunks().map((c) => ({ ...c }));
    let vectors = "";
    let vectorCount = 0;
    const embedder = project.config.retrieval.mode === "lexical" ? undefined : project.embedder();
    if (embedder) {
      const v = openVectorStore(project.indexFile);
      try {
        const loaded = v.load(embedder.id);
        vectorCount = loaded.ids.length;
        vectors = createHash("sha256").update(JSON.stringify(loaded.ids)).update(Buffer.from(loaded.matrix.buffer, loaded.matrix.byteOffset, loaded.matrix.byteLength)).digest("hex");
      } finally {
        v.close();
      }
    }
    return { fingerprint: store.identity().identity.fingerprint, documents, chunks, vectors, vectorCount };
  } finally {
    project.close();
  }
}
