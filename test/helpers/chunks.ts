/** A Chunk for retrieval tests: `docs/<id>.md`, one line, no title/headings/version unless given. */
import type { Chunk } from "../../src/ingest/index.ts";

export function testChunk(id: string, text: string, extra: Partial<Chunk> = {}): Chunk {
  return {
    id,
    path: `docs/${id}.md`,
    ordinal: 0,
    title: "",
    headingPath: [],
    text,
    lineStart: 1,
    lineEnd: 1,
    version: "",
    tokens: 0,
    meta: {},
    ...extra,
  };
}
