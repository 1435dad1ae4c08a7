/**
 * Every option of every command, given a bad value (or a contradicting flag), is refused with exit
 * code 2 and a message naming the option and what is allowed; a few good lines prove the checks do
 * not refuse good input. One child process runs the whole table (test/helpers/cli-batch.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command, Option } from "commander";
import { makeTinyProject } from "./helpers/project.ts";
import { runCliBatch } from "./helpers/run-batch.ts";
import { buildProgram } from "../src/cli/main.ts";

interface Row {
  args: string[];
  /** Expected stderr; the exit code is 2 unless `code` says otherwise. */
  error?: RegExp;
  code?: number;
  /** For good lines: a check of stdout. */
  stdout?: RegExp;
  cwd?: string;
}

function fixture() {
  const root = makeTinyProject();
  const suite = readFileSync(join(root, "suite.yaml"), "utf8")
    .replace("    sources: [docs/v2/billing.md]\n", "    sources: [docs/v2/billing.md]\n    tags: [billing]\n")
    .replace("    sources: [docs/v2/trash.md]\n", "    sources: [docs/v2/trash.md]\n    tags: [trash]\n");
  writeFileSync(join(root, "tagged-suite.yaml"), suite);
  writeFileSync(join(root, "t.csv"), "text,label\nI was charged twice,billing\nThe page crashes,bug_report\n");
  writeFileSync(join(root, "logs.jsonl"), `{"input":"a","output":"b"}\n`);
  const beir = join(root, "beir");
  mkdirSync(join(beir, "qrels"), { recursive: true });
  writeFileSync(join(beir, "corpus.jsonl"), `{"_id":"d1","title":"","text":"refunds within 30 days"}\n`);
  writeFileSync(join(beir, "queries.jsonl"), `{"_id":"q1","text":"refund"}\n`);
  writeFileSync(join(beir, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\n");
  // Projects whose config values are fine alone but wrong for this index / file system.
  const badFilter = makeTinyProject("retrieval:\n  versions: [v9]\n");
  const noSuite = makeTinyProject();
  writeFileSync(join(noSuite, "ragtune.yaml"), readFileSync(join(noSuite, "ragtune.yaml"), "utf8").replace("suite: suite.yaml", "suite: missing-suite.yaml"));
  const missingDataset = makeTinyProject("finetune:\n  datasets:\n    - task: classify\n      file: no-such-tickets.csv\n");
  const onlyFinetuned = makeTinyProject("variants: [fine-tuned, hybrid]\n");
  return { root, beir, badFilter, noSuite, missingDataset, onlyFinetuned };
}

const { root, beir, badFilter, noSuite, missingDataset, onlyFinetuned } = fixture();
const opt = (flag: string, value: string, rest: string) => new RegExp(`option '${flag}[^']*' argument '${value}' is invalid\\. ${rest}`);

const ROWS: Row[] = [
  // Good lines first: the index and a run exist for the rows below.
  { args: ["ingest", "--json"], code: 0 },
  { args: ["search", "refund annual plan", "--json", "-k", "2"], code: 0, stdout: /"retriever": "bm25\(.*\) → rerank\(offline/ },
  { args: ["search", "refund annual plan", "--json", "--raw"], code: 0, stdout: /"retriever": "bm25\([^)]*\)",/ },
  { args: ["eval", "--suite", "tagged-suite.yaml", "--tags", "billing", "--variants", "rag", "--gate", "rag=0", "--json"], code: 0, stdout: /"cases": 1\b/ },
  { args: ["eval", "--dry-run", "--variants", "rag,prompt-only", "--max-cost", "$1"], code: 0, stdout: /within --max-cost/ },
  { args: ["decide", "latest", "--json"], code: 0 },
  // A model named like an Object.prototype member is just an unknown model (no key needed for a dry run).
  { args: ["eval", "--dry-run", "--variants", "long-context", "--model", "openai:constructor"], code: 0, stdout: /generator: openai:constructor/ },

  // global
  { args: ["-c", "nope.yaml", "runs"], error: /--config: config file not found: .*nope\.yaml/ },
  { args: ["-c", "docs", "runs"], error: /--config: .*docs is a folder/ },
  { args: ["evl"], error: /unknown command 'evl'\n\(Did you mean eval\?\)/ },
  { args: [], error: /'ragtune' needs a command: init, ingest, search/ },
  { args: ["help", "serch"], error: /unknown command 'serch' \(did you mean 'search'\?\)/ },

  // init
  { args: ["init", "ragtune.yaml"], error: /argument 'dir'.*ragtune\.yaml is a file, not a folder/ },

  // search
  { args: ["search", ""], error: /argument 'query'.*expected search text, got an empty string/ },
  { args: ["search", "x", "-k", "0"], error: opt("-k, --k", "0", "expected an integer from 1 to 200") },
  { args: ["search", "x", "-k", "abc"], error: opt("-k, --k", "abc", "expected an integer from 1 to 200") },
  { args: ["search", "x", "-k", "201"], error: opt("-k, --k", "201", "expected an integer from 1 to 200") },
  { args: ["search", "x", "-k", "2.5"], error: opt("-k, --k", "2.5", "expected an integer from 1 to 200") },
  { args: ["search", "x", "--version-label", "v9"], error: /--version-label: no indexed document has the version label 'v9'.*labels in the index: v1, v2/ },
  { args: ["search", "x", "--version-label", " "], error: /option '--version-label <label...>' argument ' ' is invalid\. expected a version label/ },
  { args: ["search", "x", "--path", "nodocs/**"], error: /--path: the glob 'nodocs\/\*\*' matches no indexed document/ },
  { args: ["search", "x", "--tag", "billng"], error: /--tag: no indexed document has the front-matter tag 'billng' \(did you mean 'billing'\?\); tags in the index: billing, payments/ },
  { args: ["search", "a", "b"], error: /too many arguments for 'search'/ },
  { args: ["search", "--nope", "x"], error: /unknown option '--nope'/ },

  // ask
  { args: ["ask", " "], error: /argument 'question'.*expected a question, got an empty string/ },
  { args: ["ask", "q", "-k", "0"], error: opt("-k, --k", "0", "expected an integer from 1 to 200") },
  { args: ["ask", "q", "--model", "opnai:gpt-4o"], error: /--model: unknown generator kind 'opnai' \(did you mean 'openai'\?\)/ },
  { args: ["ask", "q", "--model", "openai-compatible:constructor/x"], error: /--model: unknown provider 'constructor'/ },
  { args: ["ask", "q", "--model", "openai-compatible:toString/x"], error: /--model: unknown provider 'toString'/ },
  { args: ["ask", "q", "--model", "openai-compatible:__proto__/x"], error: /--model: unknown provider '__proto__'/ },
  { args: ["ask", "q", "--stream", "--json"], error: /--stream and --json cannot be combined/ },
  { args: ["ask", "q", "--path", "x/**"], error: /--path: the glob 'x\/\*\*' matches no indexed document/ },
  { args: ["ask", "q", "--tag", "nosuch"], error: /--tag: no indexed document has the front-matter tag 'nosuch'/ },
  { args: ["ask", "q", "--version-label", "v3"], error: /--version-label: .*'v3'/ },

  // eval
  { args: ["eval", "--suite", "nosuch.yaml"], error: opt("--suite", "nosuch.yaml", "file not found: .*nosuch\\.yaml") },
  { args: ["eval", "--suite", "docs"], error: opt("--suite", "docs", ".*docs is a folder; expected a file") },
  { args: ["eval", "--variants", "rga"], error: opt("--variants", "rga", "unknown variant 'rga' \\(did you mean 'rag'\\?\\); expected one of: prompt-only, long-context, rag, fine-tuned, hybrid") },
  { args: ["eval", "--variants", "rag,rag"], error: /'rag' is listed twice/ },
  { args: ["eval", "--variants", ","], error: opt("--variants", ",", "expected a comma-separated list") },
  { args: ["eval", "--variants", "fine-tuned"], error: /--variants: fine-tuned needs a promoted fine-tuned model/ },
  { args: ["eval", "--suite", "tagged-suite.yaml", "--tags", "nosuchtag"], error: /--tags: no case in .*tagged-suite\.yaml has the tag 'nosuchtag'; tags in the suite: billing, trash/ },
  { args: ["eval", "--suite", "tagged-suite.yaml", "--tags", "billing,trsh"], error: /--tags: .*'trsh' \(did you mean 'trash'\?\)/ },
  { args: ["eval", "--tags", "billing"], error: /--tags: .*'billing'; the suite's cases have no tags/ },
  { args: ["eval", "--resume", "nope"], error: /--resume: no run 'nope' in .*runs; recorded runs \(newest first\): \d{4}-/ },
  { args: ["eval", "--resume", "latest", "--variants", "rag"], error: /--variants cannot be combined with --resume/ },
  { args: ["eval", "--resume", "latest", "--dry-run"], error: /--dry-run cannot be combined with --resume/ },
  { args: ["eval", "--model", "offline:extractiv"], error: /--model: unknown offline generator 'offline:extractiv' \(did you mean 'offline:extractive'\?\)/ },
  { args: ["eval", "--judge", "offline:extractive"], error: /--judge: 'offline:extractive' is not an LLM/ },
  { args: ["eval", "--judge", "gpt-4.1"], error: /--judge: 'gpt-4\.1' has no kind prefix/ },
  { args: ["eval", "--allow-self-judge"], error: /--allow-self-judge needs a judge/ },
  { args: ["eval", "--repeats", "0"], error: opt("--repeats", "0", "expected an integer from 1 to 20") },
  { args: ["eval", "--repeats", "21"], error: opt("--repeats", "21", "expected an integer from 1 to 20") },
  { args: ["eval", "--max-cost", "-1"], error: opt("--max-cost", "-1", "expected an amount in USD from 0 to 10,000,000") },
  { args: ["eval", "--max-cost", "lots"], error: opt("--max-cost", "lots", "expected an amount in USD") },
  { args: ["eval", "--queue", "localhost:6379"], error: opt("--queue", "localhost:6379", "expected a redis:// or rediss:// URL") },
  { args: ["eval", "--queue", "redis://127.0.0.1:1", "--queue-name", " "], error: opt("--queue-name", " ", "expected a queue name, got an empty string") },
  { args: ["store", "migrate", "--to", "mysql://db/x"], error: opt("--to", "mysql://db/x", "expected a postgres:// URL, got scheme mysql") },
  { args: ["store", "migrate", "--to", "nope"], error: opt("--to", "nope", "not a URL") },
  { args: ["store", "migrate", "--to", "postgres://127.0.0.1:1/x", "--from", "no-such.db"], error: opt("--from", "no-such.db", "file not found") },
  { args: ["worker", "--queue", "nota url"], error: opt("--queue", "nota url", "not a URL") },
  { args: ["worker", "--queue", "redis://127.0.0.1:1", "--queue-name", ""], error: opt("--queue-name", "", "expected a queue name, got an empty string") },
  { args: ["worker", "--queue", "redis://127.0.0.1:1", "--concurrency", "0"], error: opt("--concurrency", "0", "expected an integer from 1 to 256") },
  { args: ["worker", "--queue", "redis://127.0.0.1:1", "--lock-ms", "10"], error: opt("--lock-ms", "10", "expected an integer from 1000 to 600,000") },
  { args: ["worker", "--queue", "redis://127.0.0.1:1", "--ingest-queue-name", ""], error: opt("--ingest-queue-name", "", "expected a queue name, got an empty string") },
  { args: ["worker", "--queue", "redis://127.0.0.1:1", "--ingest-concurrency", "65"], error: opt("--ingest-concurrency", "65", "expected an integer from 1 to 64") },
  { args: ["ingest", "--queue", "http://127.0.0.1:6379"], error: opt("--queue", "http://127.0.0.1:6379", "expected a redis:// or rediss:// URL") },
  { args: ["ingest", "--queue", "redis://127.0.0.1:1", "--queue-name", ""], error: opt("--queue-name", "", "expected a queue name, got an empty string") },
  { args: ["ingest", "--queue-name", "q"], error: /--queue-name needs --queue/ },
  { args: ["ingest", "--queue", "redis://127.0.0.1:1", "--watch"], error: /--queue cannot be combined with --watch/ },
  { args: ["eval", "--gate", "rag"], error: /--gate: expected variant=rate, e\.g\. rag=0\.8; got 'rag'/ },
  { args: ["eval", "--gate", "rga=0.5"], error: /--gate: unknown variant 'rga' \(did you mean 'rag'\?\)/ },
  { args: ["eval", "--gate", "rag=1.5"], error: /--gate: the rate must be a number from 0 to 1/ },
  { args: ["eval", "--gate", "rag=high"], error: /--gate: the rate must be a number from 0 to 1/ },
  { args: ["eval", "--gate", "rag=0.5", "rag=0.6"], error: /--gate: variant 'rag' is gated twice/ },
  { args: ["eval", "--variants", "rag", "--gate", "hybrid=0.5"], error: /--gate hybrid=0\.5: variant 'hybrid' is not run \(variants: rag\)/ },
  { args: ["eval", "--dry-run", "--gate", "rag=0.5"], error: /--gate cannot be combined with --dry-run/ },
  { args: ["eval", "--junit", "docs"], error: opt("--junit", "docs", ".*docs is a folder; expected a file path") },
  { args: ["eval", "--junit", "suite.yaml/out.xml"], error: opt("--junit", "suite.yaml/out.xml", ".*suite\\.yaml is a file, not a folder") },
  { args: ["eval", "--dry-run", "--junit", "out.xml"], error: /--junit cannot be combined with --dry-run/ },
  { args: ["eval", "--version-label", "v9"], error: /--version-label: no indexed document has the version label 'v9'/ },
  { args: ["eval", "--path", "x/**"], error: /--path: the glob 'x\/\*\*'/ },
  { args: ["eval", "--tag", "x"], error: /--tag: no indexed document has the front-matter tag 'x'/ },

  // config values that only the index or the file system can refute
  { args: ["ingest"], cwd: badFilter, code: 0 },
  { args: ["search", "refund"], cwd: badFilter, error: /ragtune\.yaml:\d+: retrieval\.versions: 'v9': no indexed document has the version label 'v9'/ },
  { args: ["ingest"], cwd: noSuite, code: 0 },
  { args: ["eval"], cwd: noSuite, error: /ragtune\.yaml:\d+: suite: suite file not found: .*missing-suite\.yaml/ },
  { args: ["ingest"], cwd: onlyFinetuned, code: 0 },
  { args: ["eval"], cwd: onlyFinetuned, error: /ragtune\.yaml:\d+: variants: fine-tuned and hybrid need a promoted fine-tuned model .* \(fine-tuned, hybrid cannot run\)/ },
  { args: ["finetune", "train"], cwd: missingDataset, error: /ragtune\.yaml:\d+: finetune\.datasets\.0\.file: file not found: .*no-such-tickets\.csv/ },

  // cache, runs
  { args: ["cache"], error: /'ragtune cache' needs a command: stats, clear/ },
  { args: ["cache", "stat"], error: /unknown command 'stat'/ },
  { args: ["runs", "extra"], error: /too many arguments for 'runs'/ },

  // decide, report, demo
  { args: ["decide", "nope"], error: /decide \[run\]: no run 'nope' in .*runs; recorded runs/ },
  { args: ["report", "nope"], error: /report \[run\]: no run 'nope'/ },
  { args: ["report", "--out", "suite.yaml"], error: opt("--out", "suite.yaml", ".*suite\\.yaml is a file, not a folder") },
  { args: ["report", "--out", "suite.yaml/reports"], error: opt("--out", "suite.yaml/reports", "cannot create .*: .*suite\\.yaml is a file, not a folder") },
  { args: ["demo", "--out", "suite.yaml"], error: opt("--out", "suite.yaml", ".*suite\\.yaml is a file, not a folder") },
  { args: ["demo", "--out", "."], error: /already holds a project \(ragtune\.yaml\)/ },

  // export
  { args: ["export"], error: /'ragtune export' needs a command: junit, ragas/ },
  { args: ["export", "junit", "nope"], error: /export junit \[run\]: no run 'nope'/ },
  { args: ["export", "junit", "--out", "docs"], error: opt("--out", "docs", ".*docs is a folder; expected a file path") },
  { args: ["export", "junit", "--out", ""], error: opt("--out", "", "expected a file path, got an empty string") },
  { args: ["export", "ragas", "--variant", "hybrid"], error: /--variant: the run has no variant 'hybrid'; variants in the run: rag/ },
  { args: ["export", "ragas", "--variant", " "], error: opt("--variant", " ", "expected a variant name") },
  { args: ["export", "ragas", "--out", "docs"], error: opt("--out", "docs", ".*docs is a folder") },

  // import
  { args: ["import"], error: /'ragtune import' needs a command: promptfoo, ragas, openai-evals/ },
  { args: ["import", "promptfoo", "nosuch.yaml"], error: /argument 'file'.*file not found: .*nosuch\.yaml/ },
  { args: ["import", "promptfoo", "suite.yaml", "--out", "docs"], error: opt("--out", "docs", ".*docs is a folder; expected a file path") },
  { args: ["import", "promptfoo", "suite.yaml", "--out", "ragtune.yaml"], error: /--out: .*ragtune\.yaml exists; pass --force to replace it/ },
  { args: ["import", "promptfoo", "suite.yaml", "--input-var", ""], error: opt("--input-var", "", "expected a var name") },
  { args: ["import", "promptfoo", "suite.yaml"], error: /suite\.yaml:1: tests: missing: a promptfoo config lists its test cases under `tests`/ },
  { args: ["import", "ragas", "logs.jsonl", "--out", "docs"], error: opt("--out", "docs", ".*docs is a folder; expected a file path") },
  { args: ["import", "ragas", "logs.jsonl"], error: /logs\.jsonl:1: user_input: missing: a row needs user_input \(or question\); its fields: input, output/ },
  { args: ["import", "ragas", "nosuch.jsonl"], error: /argument 'file'.*file not found/ },
  { args: ["import", "openai-evals", "logs.jsonl", "--out", ""], error: opt("--out", "", "expected a file path") },
  { args: ["import", "openai-evals", "logs.jsonl"], error: /logs\.jsonl:1: ideal: missing/ },

  // bench retrieval
  { args: ["bench"], error: /'ragtune bench' needs a command: retrieval/ },
  { args: ["bench", "retrieval", "--beir", "nosuchdir"], error: opt("--beir", "nosuchdir", "folder not found") },
  { args: ["bench", "retrieval", "--suite", "nosuch.yaml"], error: opt("--suite", "nosuch.yaml", "file not found") },
  { args: ["bench", "retrieval", "--beir", beir, "--split", "dev"], error: /--split: .*dev\.tsv does not exist; splits in .*: test/ },
  { args: ["bench", "retrieval", "--beir", beir, "--split", ""], error: opt("--split", "", "expected a split name") },
  { args: ["bench", "retrieval", "--suite", "suite.yaml", "--split", "dev"], error: /--split applies to --beir only/ },
  { args: ["bench", "retrieval", "--beir", beir, "--compare", "minisarch"], error: /unknown library 'minisarch' \(did you mean 'minisearch'\?\); expected one of: minisearch, orama, wink, sqlite-fts5, lancedb/ },
  { args: ["bench", "retrieval", "--beir", beir, "--repeat", "0"], error: opt("--repeat", "0", "expected an integer from 1 to 100") },
  { args: ["bench", "retrieval", "--suite", "suite.yaml", "--grid", "nosuch.yaml"], error: opt("--grid", "nosuch.yaml", "file not found") },
  { args: ["bench", "retrieval", "--suite", "suite.yaml", "--strategies", "heading"], error: /unknown chunking strategy 'heading' \(did you mean 'headings'\?\)/ },
  { args: ["bench", "retrieval", "--beir", beir, "--grid", "suite.yaml"], error: /--grid and --strategies apply to --suite only/ },

  // dataset build
  { args: ["dataset"], error: /'ragtune dataset' needs a command: build/ },
  { args: ["dataset", "build", "--run", "nope"], error: /--run: no run 'nope'/ },
  { args: ["dataset", "build", "--include-passed"], error: /--include-passed goes with --run/ },
  { args: ["dataset", "build", "--file", "nosuch.csv"], error: opt("--file", "nosuch.csv", "file not found") },
  { args: ["dataset", "build", "--file", "t.csv", "--task", "clasify"], error: /unknown task 'clasify' \(did you mean 'classify'\?\); expected one of: classify, qa, extract/ },
  { args: ["dataset", "build", "--input-field", "text"], error: /--input-field goes with --file/ },
  { args: ["dataset", "build", "--output-field", "label"], error: /--output-field goes with --file/ },
  { args: ["dataset", "build", "--system-field", "sys"], error: /--system-field goes with --file/ },
  { args: ["dataset", "build", "--file", "t.csv", "--task", "classify", "--input-field", ""], error: opt("--input-field", "", "expected a field name") },
  { args: ["dataset", "build", "--logs", "nosuch.jsonl"], error: opt("--logs", "nosuch.jsonl", "file not found") },
  { args: ["dataset", "build", "--corrected-only"], error: /--corrected-only goes with --logs/ },
  { args: ["dataset", "build", "--near-dup", "2"], error: opt("--near-dup", "2", "expected a Jaccard threshold in \\(0, 1\\] or 'off'") },
  { args: ["dataset", "build", "--semantic-dup", "1.5"], error: opt("--semantic-dup", "1.5", "expected a cosine threshold in \\(0, 1\\]") },
  { args: ["dataset", "build", "--min-tokens", "-1"], error: opt("--min-tokens", "-1", "expected an integer from 0 to 100,000") },
  { args: ["dataset", "build", "--max-tokens", "0"], error: opt("--max-tokens", "0", "expected an integer from 1 to 1,000,000") },
  { args: ["dataset", "build", "--file", "t.csv", "--task", "classify", "--min-tokens", "10", "--max-tokens", "5"], error: /--min-tokens 10 is larger than --max-tokens 5/ },
  { args: ["dataset", "build", "--conflicts", "merge"], error: /unknown conflict mode 'merge'; expected one of: drop, keep, majority/ },
  { args: ["dataset", "build", "--split", "80,20"], error: /--split: expected three non-negative numbers/ },
  { args: ["dataset", "build", "--seed", "-1"], error: opt("--seed", "-1", "expected an integer from 0 to 4,294,967,295") },
  { args: ["dataset", "build", "--file", "t.csv", "--task", "classify", "--decontaminate", "nosuch.yaml"], error: /--decontaminate: suite file not found: .*nosuch\.yaml/ },
  { args: ["dataset", "build", "--format", "csv"], error: /unknown format 'csv'; expected one of: openai, sharegpt, alpaca, axolotl/ },
  { args: ["dataset", "build", "--base-model", "llama"], error: /--base-model goes with --format axolotl/ },
  { args: ["dataset", "build", "--file", "t.csv", "--task", "classify", "--name", "a/b"], error: /--name: 'a\/b' is not a folder name/ },
  { args: ["dataset", "build", "--out", "suite.yaml"], error: opt("--out", "suite.yaml", ".*is a file, not a folder") },
  { args: ["dataset", "build", "--logs", "logs.jsonl", "--task", "qa", "--task", "classify"], error: /several --task values go with --file/ },

  // finetune classify
  { args: ["finetune"], error: /'ragtune finetune' needs a command: classify, train/ },
  { args: ["finetune", "classify", "--train", "nosuch.csv", "--test", "t.csv"], error: opt("--train", "nosuch.csv", "file not found") },
  { args: ["finetune", "classify", "--train", "t.csv", "--test", "nosuch.csv"], error: opt("--test", "nosuch.csv", "file not found") },
  { args: ["finetune", "classify", "--train", "t.csv"], error: /required option '--test <file>' not specified/ },
  { args: ["finetune", "classify", "--train", "t.csv", "--test", "t.csv", "--text-field", ""], error: opt("--text-field", "", "expected a field name") },
  { args: ["finetune", "classify", "--train", "t.csv", "--test", "t.csv", "--label-field", " "], error: opt("--label-field", " ", "expected a field name") },
  { args: ["finetune", "classify", "--train", "t.csv", "--test", "t.csv", "--out", "t.csv"], error: opt("--out", "t.csv", ".*is a file, not a folder") },

  // finetune train
  { args: ["finetune", "train", "--task", "clasify"], error: /unknown task 'clasify' \(did you mean 'classify'\?\)/ },
  { args: ["finetune", "train", "--task", "qa"], error: /--task goes with --file or --run/ },
  { args: ["finetune", "train", "--file", "nosuch.csv"], error: opt("--file", "nosuch.csv", "file not found") },
  { args: ["finetune", "train", "--input-field", "text"], error: /--input-field goes with --file/ },
  { args: ["finetune", "train", "--output-field", "label"], error: /--output-field goes with --file/ },
  { args: ["finetune", "train", "--run", "nope", "--task", "qa"], error: /--run: no run 'nope'/ },
  { args: ["finetune", "train", "--trainer", "memorizer"], error: /unknown trainer 'memorizer' \(did you mean 'memoriser'\?\)/ },
  { args: ["finetune", "train", "--file", "t.csv", "--task", "classify", "--setting", "=3"], error: /--setting: expected key=value, got '=3'/ },
  { args: ["finetune", "train", "--file", "t.csv", "--task", "classify", "--setting", "__proto__=1"], error: /--setting: '__proto__' is not a setting name/ },
  { args: ["finetune", "train", "--file", "t.csv", "--task", "classify", "--setting", "c=1", "c=2"], error: /--setting: 'c' is set twice/ },
  { args: ["finetune", "train", "--trainer", "classifier", "--base-model", "x"], error: /--base-model goes with --trainer openai or command/ },
  { args: ["finetune", "train", "--provider", "local"], error: /--provider goes with --trainer openai/ },
  {
    args: ["finetune", "train", "--file", "t.csv", "--task", "classify", "--trainer", "openai", "--base-model", "gpt-4.1-mini", "--provider", "constructor"],
    error: /--provider: unknown provider 'constructor': the config declares no models\.providers/,
  },
  { args: ["finetune", "train", "--command", "train.sh"], error: /--command goes with --trainer command/ },
  { args: ["finetune", "train", "--artifact-glob", "*.gguf"], error: /--artifact-glob goes with --trainer command/ },
  { args: ["finetune", "train", "--force"], error: /--force needs --reason/ },
  { args: ["finetune", "train", "--reason", "x"], error: /--reason goes with --force/ },
  { args: ["finetune", "train", "--force", "--reason", "x", "--no-promote"], error: /--force and --no-promote contradict each other/ },
  { args: ["finetune", "train"], error: /nothing to train: pass --file\/--run with --task, or declare finetune\.datasets/ },

  // view (bad values only: a good line would start a server that never exits)
  { args: ["view", "--port", "0"], error: opt("--port", "0", "expected an integer from 1 to 65,535") },
  { args: ["view", "--port", "65536"], error: opt("--port", "65536", "expected an integer from 1 to 65,535") },
  { args: ["view", "--port", "http"], error: opt("--port", "http", "expected an integer") },
  { args: ["view", "--host", "http://localhost"], error: opt("--host", "http://localhost", "expected an IP address or host name") },
  { args: ["view", "--host", "127.0.0.1:8080"], error: opt("--host", "127.0.0.1:8080", "expected an IP address or host name") },
  { args: ["view", "--host", ""], error: /option '--host <address>' argument '' is invalid/ },
  { args: ["view", "--host", "192.0.2.1"], error: /--host 192\.0\.2\.1 is not an address of this machine/ },
  // serve (bad values only: a good line would start a server that never exits)
  { args: ["serve", "--port", "0"], error: opt("--port", "0", "expected an integer from 1 to 65,535") },
  { args: ["serve", "--watch", "--debounce-ms", "-5"], error: opt("--debounce-ms", "-5", "expected an integer from 0 to 60,000") },
  { args: ["serve", "--debounce-ms", "100"], error: /--debounce-ms only applies with --watch/ },
  { args: ["ingest", "--watch", "--debounce-ms", "1.5"], error: opt("--debounce-ms", "1\\.5", "expected an integer from 0 to 60,000") },
  { args: ["ingest", "--watch", "--debounce-ms", "60001"], error: opt("--debounce-ms", "60001", "expected an integer from 0 to 60,000") },
  { args: ["ingest", "--debounce-ms", "100"], error: /--debounce-ms only applies with --watch/ },
  { args: ["serve", "--port", "http"], error: opt("--port", "http", "expected an integer") },
  { args: ["serve", "--host", "http://localhost"], error: opt("--host", "http://localhost", "expected an IP address or host name") },
  { args: ["serve", "--no-auth", "--host", "192.0.2.1"], error: /--host 192\.0\.2\.1: a server without API keys \(--no-auth\) may only bind a loopback address/ },
  { args: ["serve", "--variant", "bm25"], error: /option '--variant <name>' argument 'bm25' is invalid\. Allowed choices are prompt-only, long-context, rag, fine-tuned, hybrid/ },
  { args: ["serve", "--no-auth", "--variant", "fine-tuned"], error: /--variant fine-tuned cannot be served: no trained model is promoted/ },

  // monitor
  { args: ["monitor", "--since", "7"], error: /expected a duration like 30m, 24h, 7d or 2w/ },

  // logs and the loop back (no request log in this fixture: exit 2, named)
  { args: ["logs", "list", "--since", "7"], error: opt("--since", "7", "expected a duration like 30m, 24h, 7d or 2w") },
  { args: ["logs", "list", "--feedback", "dwn"], error: /option '--feedback <which>' argument 'dwn' is invalid\. .*down, corrected, any/ },
  { args: ["logs", "list"], error: /no request log at .*requests\.db: start `ragtune serve`/ },
  { args: ["logs", "label", "--since", "5y"], error: opt("--since", "5y", "expected a duration like 30m, 24h, 7d or 2w") },
  { args: ["logs", "label"], error: /no request log at .*requests\.db/ },
  { args: ["decide", "--from-logs", "--since", "0d"], error: opt("--since", "0d", "expected a duration like 30m, 24h, 7d or 2w") },
  { args: ["decide", "--since", "1d"], error: /--since goes with --from-logs/ },
  { args: ["decide", "--from-logs"], error: /no request log at .*requests\.db/ },
  { args: ["report", "--from-logs", "--since", "7"], error: opt("--since", "7", "expected a duration like 30m, 24h, 7d or 2w") },
  { args: ["report", "--since", "1d"], error: /--since goes with --from-logs/ },
  { args: ["dataset", "build", "--from-logs", "--since", "x"], error: opt("--since", "x", "expected a duration like 30m, 24h, 7d or 2w") },
  { args: ["dataset", "build", "--since", "1d"], error: /--since goes with --from-logs/ },
  { args: ["dataset", "build", "--from-logs"], error: /no request log at .*requests\.db/ },
  { args: ["suite"], error: /'ragtune suite' needs a command: add-from-logs/ },
  { args: ["suite", "add-from-logs"], error: /nothing to add: give request ids .* or --feedback/ },
  { args: ["suite", "add-from-logs", "--feedback", "all"], error: /option '--feedback <which>' argument 'all' is invalid/ },
  { args: ["suite", "add-from-logs", "--feedback", "down", "--since", "-1d"], error: opt("--since", "-1d", "expected a duration like 30m, 24h, 7d or 2w") },
  { args: ["suite", "add-from-logs", "abc", "--since", "1d"], error: /--since goes with --feedback/ },
  { args: ["suite", "add-from-logs", "abc", "--to", "docs"], error: opt("--to", "docs", ".*is a folder; expected a file path") },
  { args: ["suite", "add-from-logs", "abc"], error: /no request log at .*requests\.db/ },

  // index versions
  { args: ["index"], error: /'ragtune index' needs a command: versions, rollback/ },
  { args: ["index", "rollback", "abc"], error: /argument 'version'.*expected an integer/ },
  { args: ["index", "rollback", "0"], error: /expected an integer from 1/ },

  // pilot
  { args: ["pilot", "--until", "decide"], error: /unknown step 'decide'; expected one of: ingest, baseline/ },
  { args: ["pilot", "--candidates", "all"], error: /unknown set 'all'/ },
  { args: ["pilot", "--resume", ""], error: /option '--resume <id>' argument '' is invalid/ },
  { args: ["pilot", "--resume", "nope"], error: /--resume: no pilot 'nope'/ },

  // models
  { args: ["models"], error: /'ragtune models' needs a command: list, show, promote, rollback/ },
  { args: ["models", "list", "--task", "qaa"], error: /unknown task 'qaa' \(did you mean 'qa'\?\)/ },
  { args: ["models", "show", "nope"], error: /unknown model "nope"/ },
  { args: ["models", "show", ""], error: /argument 'id'.*expected a model id/ },
  { args: ["models", "promote", "nope"], error: /unknown model "nope"/ },
  { args: ["models", "promote", "x", "--reason", "why"], error: /--reason goes with --force/ },
  { args: ["models", "promote", "x", "--force"], error: /--force needs --reason/ },
  { args: ["models", "rollback"], error: /required option '--task <task>' not specified/ },
  { args: ["models", "rollback", "--task", "clasify"], error: /unknown task 'clasify' \(did you mean 'classify'\?\)/ },

  // keys
  { args: ["keys"], error: /'ragtune keys' needs a command: create, list, revoke/ },
  { args: ["keys", "create"], error: /required option '--scope <scope>' not specified/ },
  { args: ["keys", "create", "--scope", "admn"], error: /unknown scope 'admn' \(did you mean 'admin'\?\); expected one of: query, admin/ },
  { args: ["keys", "create", "--scope", "query", "--name", " "], error: opt("--name", " ", "expected a key name") },
  { args: ["keys", "create", "--scope", "query", "--rate-limit", "0"], error: opt("--rate-limit", "0", "expected an integer from 1 to 1,000,000") },
  { args: ["keys", "create", "--scope", "query", "--rate-limit", "fast"], error: opt("--rate-limit", "fast", "expected an integer") },
  { args: ["keys", "revoke", ""], error: /argument 'id'.*expected a key id/ },
  { args: ["keys", "revoke", "nope"], error: /no API key store at .*keys\.db|unknown API key id 'nope'/ },
];

test("every command and option: a bad value is exit 2 with 'error:' naming the option and what is allowed", async () => {
  const results = await runCliBatch(ROWS.map((r) => ({ args: r.args, cwd: r.cwd ?? root })));
  const failures: string[] = [];
  ROWS.forEach((row, i) => {
    const r = results[i];
    const line = `ragtune ${row.args.map((a) => (/\s|^$/.test(a) ? JSON.stringify(a) : a)).join(" ")}`;
    const want = row.code ?? 2;
    if (r.code !== want) failures.push(`${line}: exit ${r.code}, expected ${want}\n    ${r.stderr.trim().split("\n").join("\n    ")}`);
    if (want === 2) {
      if (!/^error: /m.test(r.stderr)) failures.push(`${line}: no 'error: ' line on stderr: ${JSON.stringify(r.stderr)}`);
      if (row.error && !row.error.test(r.stderr)) failures.push(`${line}: stderr does not match ${row.error}:\n    ${r.stderr.trim()}`);
      if (/at .*\.ts:\d+/.test(r.stderr)) failures.push(`${line}: a stack trace instead of a message`);
    }
    if (row.stdout && !row.stdout.test(r.stdout)) failures.push(`${line}: stdout does not match ${row.stdout}:\n    ${r.stdout.slice(0, 400)}`);
  });
  assert.deepEqual(failures, []);
});

test("the table covers every option that takes a value, of every command", () => {
  const missing: string[] = [];
  const walk = (cmd: Command, path: string[]) => {
    for (const sub of cmd.commands) walk(sub, [...path, sub.name()]);
    if (path.length === 0) return;
    for (const o of cmd.options as readonly Option[]) {
      if (!o.required && !o.optional) continue; // boolean flags have no value to get wrong
      const covered = ROWS.some((r) => {
        const args = r.args[0] === "-c" ? r.args.slice(2) : r.args;
        return path.every((p, i) => args[i] === p) && args.some((a) => a === o.long || a === o.short);
      });
      if (!covered) missing.push(`${path.join(" ")} ${o.flags}`);
    }
  };
  walk(buildProgram(), []);
  assert.deepEqual(missing, [], "add a row with a bad value for each of these");
});
