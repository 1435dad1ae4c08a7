/**
 * Every config value has a bound and every bad value is an error naming the file, the line and the
 * key (exit 2 through the CLI). The numeric table is generated from the schema itself, so a new
 * numeric key without an upper bound fails here.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { loadConfig, parseConfig } from "../src/config/index.ts";
import { configJsonSchema } from "../src/config/emit.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { runCliBatch } from "./helpers/run-batch.ts";

type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
};

interface NumericKey {
  path: string[];
  integer: boolean;
  min?: number;
  max?: number;
  exclusiveMin?: number;
}

/** Map entries need a valid entry around the key under test. */
const MAP_ENTRY: Record<string, { name: string; entry: Record<string, unknown> }> = {
  "models.providers": { name: "local", entry: { baseUrl: "http://127.0.0.1:1/v1" } },
  "pricing.models": { name: "openai:gpt-4o", entry: { inputPerMTok: 1, outputPerMTok: 1 } },
};

function numericKeys(): NumericKey[] {
  const out: NumericKey[] = [];
  const walk = (s: JsonSchema, path: string[]) => {
    for (const [key, prop] of Object.entries(s.properties ?? {})) {
      const p = [...path, key];
      const numeric = [prop, ...(prop.anyOf ?? [])].find((x) => x.type === "number" || x.type === "integer");
      if (numeric) {
        out.push({
          path: p,
          integer: numeric.type === "integer",
          min: numeric.minimum,
          max: numeric.maximum !== undefined && numeric.maximum < Number.MAX_SAFE_INTEGER ? numeric.maximum : undefined,
          exclusiveMin: numeric.exclusiveMinimum,
        });
      }
      if (prop.properties) walk(prop, p);
      const value = prop.additionalProperties;
      if (value && typeof value === "object" && value.properties) {
        const entry = MAP_ENTRY[p.join(".")];
        assert.ok(entry, `add a MAP_ENTRY for ${p.join(".")}`);
        walk(value, [...p, entry.name]);
      }
    }
  };
  walk(configJsonSchema() as JsonSchema, []);
  return out;
}

/** Config text with `value` at `path` (map entries filled in), plus the required sources. */
function configWith(path: string[], value: unknown): string {
  const root: Record<string, unknown> = { sources: [{ include: "docs/**/*.md" }] };
  let node = root;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i];
    const mapEntry = MAP_ENTRY[path.slice(0, i).join(".")];
    node[key] ??= mapEntry && mapEntry.name === key ? { ...mapEntry.entry } : {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
  return stringify(root);
}

/** The error names `file:line: key:` and the line holds the key. */
function assertNamed(text: string, path: string[], message: RegExp): void {
  const key = path.join(".").replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  assert.throws(
    () => parseConfig(text, "proj/ragtune.yaml"),
    (e: Error) => {
      const m = new RegExp(`proj/ragtune\\.yaml:(\\d+): ${key}: (.*)`).exec(e.message);
      assert.ok(m, `no 'file:line: ${path.join(".")}:' in: ${e.message}`);
      const line = text.split("\n")[Number(m[1]) - 1] ?? "";
      const named = [...path].reverse().find((p) => !/^\d+$/.test(p))!;
      assert.ok(line.includes(named), `line ${m[1]} (${JSON.stringify(line)}) does not hold ${named}`);
      assert.match(m[2], message);
      return true;
    },
  );
}

test("every numeric key has an upper bound, and values outside [min, max] name file, line and key", () => {
  const keys = numericKeys();
  assert.ok(keys.length > 40, `found only ${keys.length} numeric keys`);
  const unbounded = keys.filter((k) => k.max === undefined).map((k) => k.path.join("."));
  assert.deepEqual(unbounded, [], "every number needs a maximum");
  for (const k of keys) {
    const above = k.integer ? k.max! + 1 : k.max! * 2 + 1;
    assertNamed(configWith(k.path, above), k.path, /must be (at most|below) /);
    if (k.min !== undefined) assertNamed(configWith(k.path, k.min - 1), k.path, /must be at least /);
    if (k.exclusiveMin !== undefined) assertNamed(configWith(k.path, k.exclusiveMin), k.path, /must be above /);
    if (k.integer) assertNamed(configWith(k.path, (k.min ?? 0) + 1.5), k.path, /expected an integer/);
    assertNamed(configWith(k.path, "lots"), k.path, /expected number.*got 'lots'/);
  }
});

const BAD: [string, string[], RegExp][] = [
  // the cases
  ["evaluate:\n  bootstrapSamples: 1e12\n", ["evaluate", "bootstrapSamples"], /must be at most 100,000, got 1000000000000/],
  ["models:\n  generator: gpt-4o\n", ["models", "generator"], /'gpt-4o' has no kind prefix; expected one of: offline:extractive, openai:<model>/],
  // model ids
  ["models:\n  generator: opnai:gpt-4o\n", ["models", "generator"], /unknown generator kind 'opnai' \(did you mean 'openai'\?\)/],
  ["models:\n  generator: 'offline:extractiv'\n", ["models", "generator"], /did you mean 'offline:extractive'/],
  ["models:\n  generator: 'openai:'\n", ["models", "generator"], /expected openai:<model>/],
  ["models:\n  generator: 'openai:gpt 4'\n", ["models", "generator"], /contains whitespace/],
  ["models:\n  generator: openai-compatible:local\n", ["models", "generator"], /expected openai-compatible:<provider>\/<model>/],
  ["models:\n  generator: openai-compatible:constructor/x\n", ["models", "generator"], /unknown provider 'constructor'.*no providers are configured/],
  ["models:\n  generator: openai-compatible:toString/x\n", ["models", "generator"], /unknown provider 'toString'/],
  ["models:\n  generator: openai-compatible:hasOwnProperty/x\n", ["models", "generator"], /unknown provider 'hasOwnProperty'/],
  [
    "models:\n  providers:\n    local:\n      baseUrl: http://127.0.0.1:1/v1\n  generator: openai-compatible:locl/x\n",
    ["models", "generator"],
    /unknown provider 'locl' in .* \(did you mean 'local'\?\): configured providers: local/,
  ],
  ["models:\n  generator: 'llamacpp:m.gguf?lora='\n", ["models", "generator"], /\?lora= needs the path/],
  ["models:\n  generator: 'llamacpp:m.gguf?lore=a.gguf'\n", ["models", "generator"], /unknown option 'lore'/],
  ["models:\n  judge: offline:extractive\n", ["models", "judge"], /is not an LLM/],
  ["models:\n  judge: openai-compatible:valueOf/m\n", ["models", "judge"], /unknown provider 'valueOf'/],
  ["models:\n  embedder: hashng\n", ["models", "embedder"], /unknown embedder kind 'hashng' \(did you mean 'hashing'\?\)/],
  ["models:\n  embedder: hashing:4\n", ["models", "embedder"], /hashing dimensions must be an integer from 8 to 65536/],
  ["models:\n  embedder: 'onnx:'\n", ["models", "embedder"], /expected onnx:<folder>/],
  ["models:\n  embedder: 'none:x'\n", ["models", "embedder"], /'none' takes no argument/],
  ["retrieval:\n  rerank: cohre:rerank-v3\n", ["retrieval", "rerank"], /unknown reranker kind 'cohre' \(did you mean 'cohere'\?\)/],
  ["retrieval:\n  rerank: offline:x\n", ["retrieval", "rerank"], /'offline' takes no argument/],
  ["pricing:\n  referenceModel: openai:gpt-9-ultra\n", ["pricing", "referenceModel"], /no price known for 'openai:gpt-9-ultra': add pricing\.models/],
  ["pricing:\n  referenceModel: offline:extractive\n", ["pricing", "referenceModel"], /is not an LLM/],
  ["pricing:\n  models:\n    opnai:gpt-4o: {inputPerMTok: 1, outputPerMTok: 2}\n", ["pricing", "models", "opnai:gpt-4o"], /unknown reference model kind 'opnai'/],
  // cross-field rules
  ["retrieval:\n  mode: hybrid\n", ["retrieval", "mode"], /retrieval\.mode is 'hybrid' but models\.embedder is 'none'/],
  ["chunking:\n  maxTokens: 50\n  overlapTokens: 60\n", ["chunking", "overlapTokens"], /overlapTokens must be smaller than maxTokens/],
  ["chunking:\n  maxTokens: 50\n  minTokens: 60\n", ["chunking", "minTokens"], /minTokens must not be larger than maxTokens/],
  ["finetune:\n  datasets:\n    - task: qa\n      file: a.csv\n      trainer: classifier\n", ["finetune", "datasets", "0", "trainer"], /'classifier' learns only classify tasks, not qa/],
  ["finetune:\n  datasets:\n    - task: extract\n      file: a.csv\n", ["finetune", "datasets", "0", "task"], /no in-process trainer learns extract tasks/],
  ["variants: [rag, rag]\n", ["variants"], /lists a variant twice/],
  ["evaluate:\n  judges: [tone, tone]\n", ["evaluate", "judges"], /lists a judge twice/],
  // enumerations, strings, names
  ["chunking:\n  strategy: heading\n", ["chunking", "strategy"], /'heading' is not one of: headings, paragraphs, sentences, fixed \(did you mean 'headings'\?\)/],
  ["retrieval:\n  mode: lexicl\n", ["retrieval", "mode"], /did you mean 'lexical'/],
  ["variants: [rga]\n", ["variants", "0"], /'rga' is not one of: .* \(did you mean 'rag'\?\)/],
  ["name: '  '\n", ["name"], /must not be empty/],
  ["storeDir: ''\n", ["storeDir"], /must not be empty/],
  ["suite: ''\n", ["suite"], /must not be empty/],
  ["retrieval:\n  versions: ['']\n", ["retrieval", "versions", "0"], /must not be empty/],
  ["models:\n  providers:\n    local:\n      baseUrl: localhost:8000\n", ["models", "providers", "local", "baseUrl"], /must be an http:\/\/ or https:\/\/ URL/],
  ["models:\n  providers:\n    local:\n      baseUrl: http://x/v1\n      apiKeyEnv: MY-KEY\n", ["models", "providers", "local", "apiKeyEnv"], /must be an environment variable name/],
  ["models:\n  providers:\n    a/b:\n      baseUrl: http://x/v1\n", ["models", "providers", "a/b"], /provider names are letters, digits/],
  ["models:\n  providers:\n    __proto__:\n      baseUrl: http://x/v1\n", ["models", "providers", "__proto__"], /'__proto__' is not allowed as a key/],
  ["pricing:\n  asOf: yesterday\n", ["pricing", "asOf"], /must be a date YYYY-MM-DD/],
  ["sources:\n  - include: ''\n", ["sources", "0", "include"], /must not be empty/],
];

test("bad values of every kind name file, line and key, and say what is allowed", () => {
  for (const [yaml, path, message] of BAD) {
    const text = yaml.startsWith("sources:") ? yaml : `sources:\n  - include: docs/**/*.md\n${yaml}`;
    assertNamed(text, path, message);
  }
});

test("user-keyed maps are null-prototype: 'constructor' and friends are ordinary keys", () => {
  const c = parseConfig(
    [
      "sources:\n  - include: a",
      "models:\n  providers:\n    constructor:\n      baseUrl: http://127.0.0.1:1/v1\n  generator: openai-compatible:constructor/m",
      "pricing:\n  models:\n    toString: {inputPerMTok: 1, outputPerMTok: 2}",
      "finetune:\n  datasets:\n    - task: classify\n      file: t.csv\n      settings: {valueOf: 3}",
    ].join("\n") + "\n",
  );
  const key = (k: string) => k; // a plain string, as user text is
  assert.equal(c.models.providers[key("constructor")].baseUrl, "http://127.0.0.1:1/v1");
  assert.equal(c.pricing.models[key("toString")].outputPerMTok, 2);
  assert.equal(c.finetune.datasets[0].settings[key("valueOf")], 3);
  const empty = parseConfig("sources:\n  - include: a\n");
  for (const name of ["constructor", "toString", "hasOwnProperty", "valueOf", "__proto__", "isPrototypeOf"]) {
    assert.equal(Object.hasOwn(empty.models.providers, name), false);
    assert.equal((empty.models.providers as Record<string, unknown>)[name], undefined, `providers.${name}`);
    assert.equal((empty.pricing.models as Record<string, unknown>)[name], undefined, `pricing.models.${name}`);
  }
});

test("path keys: a file where a folder is needed (or the reverse) names the key at load", () => {
  const root = mkdtempSync(join(tmpdir(), "ragtune-paths-"));
  writeFileSync(join(root, "a-file"), "x");
  mkdirSync(join(root, "a-folder"));
  mkdirSync(join(root, "store", "index.db"), { recursive: true });
  const cases: [string, string, RegExp][] = [
    ["storeDir: a-file", "storeDir", /a-file is a file, not a folder/],
    ["storeDir: store", "storeDir", /index\.db \(the index\) is not a regular file/],
    ["runsDir: a-file/runs", "runsDir", /cannot create .*a-file\/runs: .*a-file is a file, not a folder/],
    ["cache:\n  dir: a-file", "cache.dir", /a-file is a file, not a folder/],
    ["suite: a-folder", "suite", /a-folder is a folder, not a file/],
    ["finetune:\n  datasets:\n    - task: classify\n      file: a-folder", "finetune.datasets.0.file", /a-folder is a folder, not a file/],
  ];
  for (const [yaml, key, message] of cases) {
    const file = join(root, "ragtune.yaml");
    writeFileSync(file, `sources:\n  - include: docs/**/*.md\n${yaml}\n`);
    assert.throws(
      () => loadConfig(file),
      (e: Error) => {
        const m = new RegExp(`ragtune\\.yaml:(\\d+): ${key.replace(/\./g, "\\.")}: `).exec(e.message);
        assert.ok(m, e.message);
        assert.ok(readFileSync(file, "utf8").split("\n")[Number(m[1]) - 1].includes(key.split(".").pop()!), `line ${m[1]} holds ${key}`);
        assert.match(e.message, message);
        return true;
      },
    );
  }
  // Folders that do not exist yet are fine: ingest and eval create them.
  writeFileSync(join(root, "ragtune.yaml"), "sources:\n  - include: docs/**/*.md\nstoreDir: new/store\nrunsDir: new/runs\nsuite: not-yet.yaml\n");
  assert.equal(loadConfig(join(root, "ragtune.yaml")).config.storeDir, "new/store");
});

test("through the CLI: the issue's config slips are exit 2 naming file, line and key, before anything runs", async () => {
  const bootstrap = makeTinyProject("evaluate:\n  bootstrapSamples: 1e12\n");
  const generator = makeTinyProject("models:\n  generator: openai:gpt-4o-mini-typo\n  judge: nosuch:judge\n");
  const store = makeTinyProject("storeDir: suite.yaml\n");
  const results = await runCliBatch([
    { args: ["eval", "--dry-run"], cwd: bootstrap },
    { args: ["eval", "--dry-run"], cwd: generator },
    { args: ["ingest"], cwd: store },
    { args: ["search", "x"], cwd: store },
  ]);
  const [b, g, s, s2] = results;
  assert.equal(b.code, 2);
  assert.match(b.stderr, /^error: invalid config: .*ragtune\.yaml:\d+: evaluate\.bootstrapSamples: must be at most 100,000/m);
  assert.equal(g.code, 2);
  assert.match(g.stderr, /ragtune\.yaml:\d+: models\.judge: unknown judge model kind 'nosuch'/);
  for (const r of [s, s2]) {
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ragtune\.yaml:\d+: storeDir: .*suite\.yaml is a file, not a folder/);
  }
});
