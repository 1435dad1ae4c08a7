import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Chunk } from "../src/ingest/index.ts";
import type { Hit } from "../src/retrieve/index.ts";
import { createReranker } from "../src/retrieve/rerank/index.ts";
import {
  candidateFeatures,
  DEFAULT_OFFLINE_WEIGHTS,
  minimumWindow,
  OfflineReranker,
} from "../src/retrieve/rerank/offline.ts";
import { HttpReranker } from "../src/retrieve/rerank/http.ts";
import { OnnxReranker, validateOnnxFolder, type TransformersModule } from "../src/retrieve/rerank/onnx.ts";
import { contentTokens } from "../src/retrieve/tokenize.ts";
import { testChunk } from "./helpers/chunks.ts";

const chunk = testChunk;
const hits = (...chunks: [Chunk, number][]): Hit[] => chunks.map(([c, score], i) => ({ chunk: c, score, rank: i + 1 }));
const ids = (h: Hit[]) => h.map((x) => x.chunk.id);

// ---------------------------------------------------------------------------------------------
// offline

test("minimumWindow finds the tightest window holding every matched term", () => {
  const tokens = ["a", "x", "b", "x", "x", "a", "b", "c"];
  assert.deepEqual(minimumWindow(tokens, new Set(["a", "b"])), { matched: 2, span: 2 });
  assert.deepEqual(minimumWindow(tokens, new Set(["a", "b", "c"])), { matched: 3, span: 3 });
  // "z" never occurs: the window covers the terms that do.
  assert.deepEqual(minimumWindow(tokens, new Set(["a", "z"])), { matched: 1, span: 1 });
  assert.deepEqual(minimumWindow(tokens, new Set(["z"])), { matched: 0, span: 0 });
  assert.deepEqual(minimumWindow(["b", "x", "x", "x", "a"], new Set(["a", "b"])), { matched: 2, span: 5 });
});

// Same words, same counts, same length and the same first-stage score; only the arrangement differs.
const scattered = chunk(
  "scattered",
  "Refund requests reach the billing team. Weather reports mention storms today. Annual reviews happen each spring. A window of time exists for every plan.",
);
const together = chunk(
  "together",
  "The annual plan refund window is thirty days. Billing team reports storms today. Weather reviews happen each spring. Requests reach us every time.",
);

test("offline features by hand: phrase pairs in body or heading, proximity over repeated terms, title share", () => {
  // Query content tokens: [rotat, api, key]; pairs (rotat, api), (api, key).
  const body = chunk("b", "Rotate keys here. The api key is listed. Rotate often.", { title: "Billing" });
  const head = chunk("h", "Nothing relevant.", { title: "API key rotation" });
  const flat = (idf: number) => () => idf;
  const [fb, fh] = candidateFeatures("rotate the api key", hits([body, 2], [head, 1]), flat(1));
  // body content tokens: rotat key api key list rotat often ("here", "the", "is" are stop words).
  // All three terms in the body; "api key" adjacent (1 of 2 pairs); the smallest window holding
  // rotat, api and key is "rotat key api" (3 tokens) → proximity 1 · 3/3.
  assert.equal(fb.coverage, 1);
  assert.equal(fb.phrase, 0.5);
  assert.equal(fb.heading, 0);
  assert.equal(fb.titleInQuery, 0);
  assert.equal(fb.proximity, 1);
  assert.equal(fb.firstStage, 1);
  // heading tokens: api key rotat — (api, key) adjacent in query order, (rotat, api) not.
  assert.equal(fh.heading, 1);
  assert.equal(fh.coverage, 1);
  assert.equal(fh.phrase, 0.5);
  assert.equal(fh.titleInQuery, 1);
  assert.equal(fh.proximity, 0);
  assert.equal(fh.firstStage, 0);
});

test("offline reranker moves the chunk with all query terms close together above one with scattered terms", async () => {
  const query = "annual plan refund window";
  // Both chunks hold every query term exactly once: coverage and heading features are equal.
  const q = new Set(contentTokens(query));
  for (const c of [scattered, together]) assert.equal(contentTokens(c.text).filter((t) => q.has(t)).length, q.size, c.id);
  const input = hits([scattered, 5], [together, 5]);

  const reranked = await new OfflineReranker().rerank(query, input, 2);
  assert.deepEqual(ids(reranked), ["together", "scattered"]);
  assert.deepEqual(
    reranked.map((h) => h.rank),
    [1, 2],
  );
  assert.ok(reranked[0].score > reranked[1].score);

  const [fs, ft] = candidateFeatures(query, input);
  assert.equal(fs.coverage, 1);
  assert.equal(ft.coverage, 1);
  assert.equal(ft.proximity, 1, "four matched terms in a window of four tokens");
  assert.ok(fs.proximity < 0.25, `scattered proximity ${fs.proximity}`);
  assert.equal(ft.phrase, 1, "all three query bigrams occur in order");
  assert.equal(fs.phrase, 0);

  // With the order features switched off nothing separates them and the incoming order stays.
  const blind = new OfflineReranker({ weights: { proximity: 0, phrase: 0 } });
  assert.deepEqual(ids(await blind.rerank(query, input, 2)), ["scattered", "together"]);
});

test("offline reranker: coverage, title match and first-stage score; k cuts and re-ranks", async () => {
  const query = "How do I export a board to CSV?";
  const partial = chunk("partial", "You can export your data from the settings page.");
  const titled = chunk("titled", "Open the menu and choose the format you need.", { title: "Export a board to CSV", headingPath: ["Export a board to CSV"] });
  const unrelated = chunk("unrelated", "Boards can have many lists and cards.");
  const input = hits([unrelated, 9], [partial, 8], [titled, 7]);
  const [fu, fp, ft] = candidateFeatures(query, input);
  assert.equal(fu.firstStage, 1);
  assert.equal(ft.firstStage, 0);
  assert.equal(ft.heading, 1, "every query term is in the title");
  assert.equal(ft.titleInQuery, 1, "every title term is in the query");
  assert.ok(fp.coverage > 0 && fp.coverage < 1);
  assert.equal(fp.heading, 0);

  const top2 = await new OfflineReranker().rerank(query, input, 2);
  assert.deepEqual(ids(top2), ["titled", "unrelated"]);
  assert.deepEqual(
    top2.map((h) => h.rank),
    [1, 2],
  );
  // With only the first-stage weight the reranker keeps the first-stage order.
  const onlyFirst = new OfflineReranker({ weights: { coverage: 0, proximity: 0, heading: 0, titleInQuery: 0, phrase: 0 } });
  assert.deepEqual(ids(await onlyFirst.rerank(query, input, 3)), ["unrelated", "partial", "titled"]);
  assert.deepEqual(await new OfflineReranker().rerank(query, [], 5), []);
  assert.throws(() => new OfflineReranker({ weights: { coverage: Number.NaN } }), /weight 'coverage'/);
});

test("offline reranker uses the given idf: a rare term outweighs a common one", async () => {
  const query = "webhook retries";
  const common = chunk("common", "Retries happen.");
  const rare = chunk("rare", "Webhook setup.");
  const idf = (t: string) => (t === "webhook" ? 5 : 0.1);
  const reranker = new OfflineReranker({ idf, weights: { firstStage: 0 } });
  assert.deepEqual(ids(await reranker.rerank(query, hits([common, 1], [rare, 1]), 2)), ["rare", "common"]);
  const flipped = new OfflineReranker({ idf: (t) => (t === "webhook" ? 0.1 : 5), weights: { firstStage: 0 } });
  assert.deepEqual(ids(await flipped.rerank(query, hits([rare, 1], [common, 1]), 2)), ["common", "rare"]);
  assert.equal(DEFAULT_OFFLINE_WEIGHTS.firstStage > 0, true);
});

// ---------------------------------------------------------------------------------------------
// HTTP (Cohere / Jina shape) against a local server

interface Received {
  method?: string;
  url?: string;
  auth?: string;
  body: any;
}

async function withServer(
  respond: (req: IncomingMessage, body: any, res: ServerResponse) => void,
  run: (base: string, received: Received[]) => Promise<void>,
): Promise<void> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      const body = raw ? JSON.parse(raw) : undefined;
      received.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
      respond(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  try {
    await run(`http://127.0.0.1:${port}`, received);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

const docs = [chunk("a", "alpha text", { title: "Alpha" }), chunk("b", "beta text"), chunk("c", "gamma text")];

/** Scores documents by how often their text contains the query's first word, in reverse order. */
const scoringServer = (_req: IncomingMessage, body: any, res: ServerResponse) => {
  const results = (body.documents as string[]).map((d, index) => ({ index, relevance_score: d.includes("gamma") ? 0.9 : d.includes("alpha") ? 0.5 : 0.1 }));
  results.reverse();
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ id: "x", results }));
};

test("cohere reranker posts {model, query, documents, top_n} to {base}/rerank with the key, and reorders", async () => {
  await withServer(scoringServer, async (base, received) => {
    const reranker = createReranker(
      "cohere:rerank-v3.5",
      { providers: { cohere: { baseUrl: `${base}/v2`, apiKeyEnv: "TEST_COHERE_KEY", timeoutMs: 5000, kind: "openai", maxRetries: 0, maxConcurrency: 4 } } },
      { TEST_COHERE_KEY: "sk-test" },
    )!;
    assert.equal(reranker.id, "cohere:rerank-v3.5");
    const out = await reranker.rerank("which one?", hits([docs[0], 3], [docs[1], 2], [docs[2], 1]), 2);
    assert.deepEqual(ids(out), ["c", "a"]);
    assert.deepEqual(
      out.map((h) => [h.rank, h.score]),
      [
        [1, 0.9],
        [2, 0.5],
      ],
    );
    assert.equal(received.length, 1);
    assert.equal(received[0].method, "POST");
    assert.equal(received[0].url, "/v2/rerank");
    assert.equal(received[0].auth, "Bearer sk-test");
    assert.deepEqual(received[0].body, { model: "rerank-v3.5", query: "which one?", documents: ["Alpha\nalpha text", "beta text", "gamma text"], top_n: 3 });
  });
});

test("jina reranker: same shape at {base}/rerank (/v1/rerank); unscored documents rank last", async () => {
  await withServer(
    (_req, _body, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ results: [{ index: 1, relevance_score: 0.7, document: { text: "beta text" } }] }));
    },
    async (base, received) => {
      const reranker = createReranker("jina:jina-reranker-v2-base-multilingual", { providers: { jina: { baseUrl: `${base}/v1`, apiKeyEnv: "NOPE", timeoutMs: 5000, kind: "openai", maxRetries: 0, maxConcurrency: 4 } } }, {})!;
      const out = await reranker.rerank("q", hits([docs[0], 3], [docs[1], 2], [docs[2], 1]), 3);
      assert.deepEqual(ids(out), ["b", "a", "c"]);
      assert.equal(received[0].url, "/v1/rerank");
      assert.equal(received[0].auth, undefined, "no key configured: no Authorization header");
      assert.equal(received[0].body.model, "jina-reranker-v2-base-multilingual");
    },
  );
});

test("http reranker errors carry the HTTP status and the server's message; bad results are named", async () => {
  await withServer(
    (_req, body, res) => {
      if (body.query === "bad-shape") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ results: [{ index: 7, relevance_score: 1 }] }));
        return;
      }
      res.writeHead(429, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: "rate limit exceeded" }));
    },
    async (base) => {
      const reranker = new HttpReranker({ kind: "cohere", model: "m", baseUrl: base, timeoutMs: 5000 });
      await assert.rejects(
        reranker.rerank("q", hits([docs[0], 1]), 1),
        (e: any) => e.status === 429 && /HTTP 429/.test(e.message) && /rate limit exceeded/.test(e.message) && /cohere:m/.test(e.message),
      );
      await assert.rejects(reranker.rerank("bad-shape", hits([docs[0], 1], [docs[1], 1]), 2), /results\[0\] needs an integer 'index' in 0\.\.1/);
      assert.deepEqual(await reranker.rerank("q", [], 3), []);
    },
  );
});

test("createReranker: ids, defaults and clear errors", () => {
  assert.equal(createReranker("none", { providers: {} }, {}), undefined);
  assert.equal(createReranker("offline", { providers: {} }, {})?.id, "offline");
  assert.throws(() => createReranker("cohere:rerank-v3.5", { providers: {} }, {}), /set COHERE_API_KEY/);
  assert.throws(() => createReranker("jina:m", { providers: {} }, {}), /set JINA_API_KEY/);
  assert.equal(createReranker("cohere:rerank-v3.5", { providers: {} }, { COHERE_API_KEY: "k" })?.id, "cohere:rerank-v3.5");
  assert.throws(() => createReranker("cohere:", { providers: {} }, {}), /expected cohere:<model>/);
  assert.throws(() => createReranker("offlin", { providers: {} }, {}), /Did you mean "offline"/);
  assert.throws(() => createReranker("bm25:x", { providers: {} }, {}), /unknown kind "bm25".*Supported: none, offline/);
});

// ---------------------------------------------------------------------------------------------
// ONNX cross-encoder: folder validation, the missing package, and the scoring path with a stand-in module

const modelRoot = mkdtempSync(join(tmpdir(), "ragtune-onnx-"));
after(() => rmSync(modelRoot, { recursive: true, force: true }));

function modelFolder(files: string[]): string {
  const dir = mkdtempSync(join(modelRoot, "model-"));
  for (const f of files) {
    mkdirSync(join(dir, f, ".."), { recursive: true });
    writeFileSync(join(dir, f), f.endsWith(".json") ? "{}" : "onnx");
  }
  return dir;
}

test("onnx reranker validates the model folder and names each missing piece", () => {
  const root = mkdtempSync(join(tmpdir(), "ragtune-onnx-root-"));
  try {
    assert.throws(() => validateOnnxFolder(join(root, "nope")), /model folder .*nope does not exist/);
    writeFileSync(join(root, "file.onnx"), "x");
    assert.throws(() => validateOnnxFolder(join(root, "file.onnx")), /is not a folder/);
    assert.throws(() => validateOnnxFolder(modelFolder(["tokenizer.json", "onnx/model.onnx"])), /config\.json is missing/);
    assert.throws(() => validateOnnxFolder(modelFolder(["config.json", "onnx/model.onnx"])), /tokenizer\.json is missing/);
    assert.throws(() => validateOnnxFolder(modelFolder(["config.json", "tokenizer.json"])), /onnx is missing/);
    assert.throws(() => validateOnnxFolder(modelFolder(["config.json", "tokenizer.json", "onnx/readme.txt"])), /no \.onnx file/);
    assert.throws(() => validateOnnxFolder(modelFolder(["config.json", "tokenizer.json", "onnx/weird.onnx"])), /weird\.onnx but transformers\.js loads one of model\.onnx/);
    assert.equal(validateOnnxFolder(modelFolder(["config.json", "tokenizer.json", "onnx/model.onnx"])).dtype, "fp32");
    const q = validateOnnxFolder(modelFolder(["config.json", "tokenizer.json", "onnx/model_quantized.onnx"]));
    assert.deepEqual([q.onnxFile, q.dtype], ["onnx/model_quantized.onnx", "q8"]);
    // createReranker resolves relative folders against the project root and keeps the id as written.
    const folder = modelFolder(["config.json", "tokenizer.json", "onnx/model.onnx"]);
    const r = createReranker(`onnx:${folder.split("/").pop()}`, { providers: {} }, {}, { root: join(folder, "..") })!;
    assert.equal(r.id, `onnx:${folder.split("/").pop()}`);
    assert.throws(() => createReranker("onnx:does/not/exist", { providers: {} }, {}, { root }), /retrieval\.rerank "onnx:does\/not\/exist": model folder/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("onnx reranker without @huggingface/transformers fails with an install hint", async (t) => {
  let installed = true;
  try {
    await import("@huggingface/transformers" as string);
  } catch {
    installed = false;
  }
  if (installed) {
    t.skip("@huggingface/transformers is installed");
    return;
  }
  const reranker = new OnnxReranker(modelFolder(["config.json", "tokenizer.json", "onnx/model.onnx"]));
  await assert.rejects(reranker.rerank("q", hits([docs[0], 1]), 1), /needs the optional package @huggingface\/transformers: run `npm install @huggingface\/transformers`/);
});

test("onnx reranker scores (query, document) pairs in batches with a stand-in transformers module", async () => {
  const calls: { pairs: [string, string][]; options: Record<string, unknown> }[] = [];
  let env: TransformersModule["env"] | undefined;
  const fake = (labels: number): TransformersModule => {
    env = { allowRemoteModels: true, localModelPath: "/models/" };
    return {
      env,
      AutoTokenizer: {
        async from_pretrained() {
          return (text: string[], options: { text_pair: string[] }) => text.map((q, i) => [q, options.text_pair[i]] as [string, string]);
        },
      },
      AutoModelForSequenceClassification: {
        async from_pretrained(_id: string, options?: Record<string, unknown>) {
          return async (inputs: unknown) => {
            const pairs = inputs as [string, string][];
            calls.push({ pairs, options: options ?? {} });
            // Relevance = document length; a 2-class head puts it in the last column.
            const data = pairs.flatMap(([, d]) => (labels === 1 ? [d.length] : [-d.length, d.length]));
            return { logits: { data, dims: [pairs.length, labels] } };
          };
        },
      },
    };
  };
  const folder = modelFolder(["config.json", "tokenizer.json", "onnx/model_quantized.onnx"]);
  const input = hits([chunk("short", "hi"), 3], [chunk("long", "a much longer passage"), 2], [chunk("mid", "medium text"), 1]);
  for (const labels of [1, 2]) {
    calls.length = 0;
    const reranker = new OnnxReranker(folder, { batchSize: 2, importTransformers: async () => fake(labels) });
    const out = await reranker.rerank("query", input, 3);
    assert.deepEqual(ids(out), ["long", "mid", "short"]);
    assert.equal(out[0].score, "a much longer passage".length);
    assert.deepEqual(
      calls.map((c) => c.pairs.length),
      [2, 1],
      "batches of 2",
    );
    assert.deepEqual(calls[0].pairs[0], ["query", "hi"]);
    assert.equal(calls[0].options.dtype, "q8");
    assert.equal(env!.allowRemoteModels, false, "never downloads");
    assert.equal(env!.localModelPath, `${join(folder, "..")}/`);
  }
});
