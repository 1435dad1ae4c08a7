/**
 * use-lite (Universal Sentence Encoder lite) with the real packaged model: it loads with no
 * network, puts paraphrases closer than unrelated sentences (with margins), gives 512-d unit
 * vectors, embeds only new and changed chunks on re-ingest, and `ragtune ingest` prints a measured
 * time estimate before a long embedding job. Few, short texts: the model costs ~20–50 ms a text.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createEmbedder } from "../src/models/embedders/index.ts";
import * as useLiteModule from "../src/models/embedders/use-lite.ts";
import { firstWords, UseLiteEmbedder, USE_LITE_DIMS } from "../src/models/embedders/use-lite.ts";
import { modelIdProblem } from "../src/config/ids.ts";
import { loadConfig, parseConfig } from "../src/config/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { runIngest } from "../src/cli/commands/ingest.ts";
import { openVectorStore } from "../src/store/vectors.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);
const norm = (a: Float32Array) => Math.sqrt(dot(a, a));

const embedder = new UseLiteEmbedder();

test("use-lite: 512-d unit vectors; paraphrases are closer than unrelated sentences, by a margin", async () => {
  const texts = [
    "How do I get my money back?",
    "Refunds are paid to the original card within five days.",
    "Press N to create a new card on the board.",
    "The cat sat on the mat.",
    "A kitten was sitting on the rug.",
    "Quarterly revenue grew by eight percent.",
  ];
  const v = await embedder.embed(texts, "document");
  assert.equal(v.length, texts.length);
  for (const x of v) {
    assert.equal(x.length, USE_LITE_DIMS);
    assert.ok(Math.abs(norm(x) - 1) < 1e-5, `norm ${norm(x)}`);
  }
  // Measured 0.39 vs 0.13 and 0.78 vs 0.01: the question shares no content word with its answer.
  assert.ok(dot(v[0], v[1]) - dot(v[0], v[2]) > 0.15, `refund ${dot(v[0], v[1])} vs new card ${dot(v[0], v[2])}`);
  assert.ok(dot(v[3], v[4]) - dot(v[3], v[5]) > 0.4, `kitten ${dot(v[3], v[4])} vs revenue ${dot(v[3], v[5])}`);
  // One encoder for queries and documents; deterministic; an empty text still gets a vector.
  const [q] = await embedder.embed([texts[0]], "query");
  assert.ok(Math.abs(dot(q, v[0]) - 1) < 1e-5);
  const [empty] = await embedder.embed([""], "document");
  assert.equal(empty.length, USE_LITE_DIMS);
});

test("use-lite: the model loads with no network at all (a network namespace without interfaces)", (t) => {
  const probe = spawnSync("unshare", ["-rn", "true"], { stdio: "ignore" });
  if (probe.error || probe.status !== 0) return t.skip("unshare -rn is not available here; the in-process loader still refuses fetch while it loads");
  const script = `import { UseLiteEmbedder } from ${JSON.stringify(join(REPO, "src/models/embedders/use-lite.ts"))};
const [v] = await new UseLiteEmbedder().embed(["offline check"], "query");
console.log("dims", v.length);`;
  const run = spawnSync("unshare", ["-rn", process.execPath, "--import", "tsx", "--input-type=module", "-e", script], { cwd: REPO, encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /dims 512/);
});

test("use-lite: id grammar, registry, truncation and worker threads", async () => {
  assert.equal(modelIdProblem("embedder", "use-lite", new Set()), undefined);
  assert.match(modelIdProblem("embedder", "use-lite:big", new Set()) ?? "", /takes no argument/);
  assert.match(modelIdProblem("embedder", "use-lit", new Set()) ?? "", /did you mean 'use-lite'/);
  const models = parseConfig("sources:\n  - include: a\n").models;
  assert.equal(createEmbedder("use-lite", models)?.id, "use-lite");
  assert.throws(() => createEmbedder("use-lite:x", models), /takes no argument/);

  assert.equal(firstWords("a  b\nc d", 3), "a  b\nc");
  assert.equal(firstWords("a b", 5), "a b");
  assert.equal(firstWords("a b", 0), "a b");
  const cut = new UseLiteEmbedder({ maxWords: 4 });
  assert.equal(cut.id, "use-lite(words=4)", "a different truncation keys different stored vectors");
  const [a] = await cut.embed(["one two three four five six"], "document");
  const [b] = await embedder.embed(["one two three four"], "document");
  assert.ok(Math.abs(dot(a, b) - 1) < 1e-5);
  assert.throws(() => new UseLiteEmbedder({ workers: 0 }), /workers must be an integer/);

  // Two worker threads give the vectors this thread gives, in input order.
  const texts = ["alpha beta", "gamma delta epsilon", "refund policy", "login with SSO", "export to CSV"];
  const pooled = new UseLiteEmbedder({ workers: 2, batchSize: 2 });
  try {
    const fromPool = await pooled.embed(texts, "document");
    const local = await embedder.embed(texts, "document");
    assert.equal(fromPool.length, texts.length);
    fromPool.forEach((v, i) => assert.ok(Math.abs(dot(v, local[i]) - 1) < 1e-5, `text ${i}`));
  } finally {
    await pooled.close();
  }
});

const PAGES: Record<string, string> = {
  "docs/refunds.md": "# Refunds\n\nRefunds are paid to the original card within five days.\n",
  "docs/sso.md": "# Sign-in\n\nTeams on the Business plan can sign in with SAML single sign-on.\n",
  "docs/export.md": "# Export\n\nBoards export to CSV with one row per card.\n",
  "docs/trash.md": "# Trash\n\nDeleted cards stay in the trash for 60 days.\n",
};

function makeProject(): string {
  const root = mkdtempSync(join(tmpdir(), "ragtune-use-lite-"));
  for (const [path, text] of Object.entries(PAGES)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  writeFileSync(join(root, "ragtune.yaml"), 'name: use-lite-test\nsources:\n  - include: "docs/**/*.md"\nretrieval:\n  mode: hybrid\nmodels:\n  embedder: use-lite\n');
  return root;
}

/** Run `fn` with stderr captured (the estimate line and the progress bar go there). */
async function captureStderr<T>(fn: () => Promise<T>): Promise<{ result: T; stderr: string }> {
  const write = process.stderr.write;
  let stderr = "";
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    return { result: await fn(), stderr };
  } finally {
    process.stderr.write = write;
  }
}

test("use-lite at ingest: vectors stored per embedder id, re-ingest embeds only the changed chunk, the estimate line before the job", async () => {
  const root = makeProject();
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  try {
    const { result: first, stderr } = await captureStderr(() => runIngest(project, true, { estimateThresholdMs: 0, embedBatchSize: 2 }));
    assert.equal(first.embedded?.embedder, "use-lite");
    assert.equal(first.embedded?.embedded, 4);
    assert.equal(first.embedded?.upToDate, 0);
    // One line, printed whether or not stderr is a terminal, measured on the first batch of 2.
    assert.match(stderr, /^embedding 4 chunks with use-lite: about \d+ s \(measured \d+ ms\/chunk on the first 2\)\n$/m);
    assert.equal(stderr.match(/^embedding /gm)?.length, 1);

    const vectors = openVectorStore(project.indexFile);
    try {
      assert.deepEqual(vectors.summary(), [{ embedder: "use-lite", dims: 512, vectors: 4 }]);
    } finally {
      vectors.close();
    }

    writeFileSync(join(root, "docs/trash.md"), "# Trash\n\nDeleted cards stay in the trash for 30 days.\n");
    // The default threshold (10 s) is far above a one-chunk job: no estimate line.
    const { result: second, stderr: quiet } = await captureStderr(() => runIngest(project, true));
    assert.equal(second.changed, 1);
    assert.deepEqual([second.embedded?.embedded, second.embedded?.upToDate], [1, 3]);
    assert.doesNotMatch(quiet, /^embedding /m);

    const [q] = await embedder.embed(["how long do deleted cards stay in the bin"], "query");
    const hits = await (await project.retrieval()).retrieve("how long do deleted cards stay in the bin", { k: 1 });
    assert.equal(hits[0]?.chunk.path, "docs/trash.md");
    assert.equal(q.length, 512);
  } finally {
    project.close();
  }
});

test("bench retrieval --suite verdict: use-lite hybrid recommended only when it finds more and ranks no worse; stored for decide", async () => {
  const { semanticVerdict } = await import("../src/bench/retrieval.ts");
  const { readSemanticVerdict, writeSemanticVerdict } = await import("../src/bench/semantic-verdict.ts");
  const row = (config: string, retriever: string, recallAtK: number | null, mrr: number | null) =>
    ({ strategy: "paragraphs", config, retriever, overrides: {}, chunks: 10, cases: 40, k: 5, recallAtK, hitAtK: recallAtK, mrr, recall20: 1, searchMs: 1 }) as const;
  const lexical = row("bm25+rerank", "bm25(k1=1.5) → rerank(offline, top 30)", 0.9, 0.8);
  const better = semanticVerdict({ cases: 40, k: 5, rows: [lexical, row("use-lite hybrid", "hybrid(…)", 0.95, 0.82)] });
  assert.equal(better?.recommended, true);
  assert.equal(better?.recallGain, 0.05);
  assert.match(better!.advice, /measured \+0\.050 recall@5 and \+0\.020 MRR vs lexical on your suite \(40 cases, chunking paragraphs\): recommended/);
  const worse = semanticVerdict({ cases: 40, k: 5, rows: [lexical, row("use-lite hybrid", "hybrid(…)", 0.95, 0.7)] });
  assert.equal(worse?.recommended, false, "more recall but worse ranking is not a win");
  assert.match(worse!.advice, /not recommended/);
  assert.equal(semanticVerdict({ cases: 40, k: 5, rows: [lexical, row("use-lite hybrid", "", null, null)] }), undefined, "a row that could not run gives no verdict");
  // A lexical project's bm25+rerank row is its "config" row (identical settings run once).
  const viaConfig = semanticVerdict({ cases: 40, k: 5, rows: [{ ...lexical, config: "config" }, row("use-lite hybrid", "hybrid(…)", 0.9, 0.8)] });
  assert.equal(viaConfig?.lexical.config, "config");
  assert.equal(viaConfig?.recommended, false, "no gain, no recommendation");

  const root = mkdtempSync(join(tmpdir(), "ragtune-verdict-"));
  assert.equal(readSemanticVerdict(root, ".ragtune"), undefined);
  writeSemanticVerdict(root, ".ragtune", better!, "suite.yaml");
  assert.equal(readSemanticVerdict(root, ".ragtune")?.recallGain, 0.05);
  writeFileSync(join(root, ".ragtune", "semantic-verdict.json"), "{ not json");
  assert.equal(readSemanticVerdict(root, ".ragtune"), undefined, "an unreadable file means not measured");
});

test("use-lite: the remote model hosts the package could download from are the ones refused", () => {
  const { USE_LITE_REMOTE_HOSTS } = useLiteModule;
  assert.ok(USE_LITE_REMOTE_HOSTS.test("https://tfhub.dev/tensorflow/tfjs-model/universal-sentence-encoder-lite/1/default/1"));
  assert.ok(USE_LITE_REMOTE_HOSTS.test("https://storage.googleapis.com/tfjs-models/savedmodel/universal_sentence_encoder/vocab.json"));
  assert.ok(!USE_LITE_REMOTE_HOSTS.test("http://127.0.0.1:8080/v1/chat/completions"), "other fetches in the process go through");
});
