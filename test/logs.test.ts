/**
 * The loop back from production logs: requests served in-process (createServeApp + app.request),
 * feedback given, then `logs label`, `decide --from-logs`, `dataset build --from-logs` and
 * `suite add-from-logs` on what the log holds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { loadConfig } from "../src/config/index.ts";
import { openProject, type Project } from "../src/pipeline/index.ts";
import { reindexProject } from "../src/pipeline/reindex.ts";
import { createServeApp } from "../src/serve/index.ts";
import { RequestLog } from "../src/serve/log.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { decide } from "../src/decide/index.ts";
import { readCaseResults, readSummary } from "../src/evaluate/runs.ts";
import { LabelStore, labelIndexOf, labelRequests, labelWindow, productionFromLogs } from "../src/logs/index.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { runCli } from "./helpers/cli.ts";

const DAY = 86_400_000;

interface Served {
  root: string;
  project: Project;
  /** request id by a short name */
  ids: Map<string, string>;
  close(): void;
}

type Ask = { name: string; question: string; feedback?: { thumbs: "up" | "down"; correctedAnswer?: string; text?: string } };

async function serve(asks: Ask[], extraConfig = ""): Promise<Served> {
  const root = makeTinyProject(extraConfig);
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  await reindexProject(project);
  const app = createServeApp({ project, logError: () => {} });
  const post = (path: string, body: unknown) => app.request(path, { method: "POST", headers: { host: "127.0.0.1", "content-type": "application/json" }, body: JSON.stringify(body) });
  const ids = new Map<string, string>();
  for (const a of asks) {
    const res = await post("/v1/ask", { question: a.question });
    assert.equal(res.status, 200);
    const { requestId } = (await res.json()) as { requestId: string };
    ids.set(a.name, requestId);
    if (a.feedback) assert.equal((await post("/v1/feedback", { requestId, ...a.feedback })).status, 200);
  }
  app.close();
  return {
    root,
    project,
    ids,
    close() {
      project.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

const REFUND = "Within how many days can I get a refund on an annual plan?";
const TRASH = "How long do deleted cards stay in the trash?";

const LABEL_ASKS: Ask[] = [
  // "14 days" is what the archived v1 docs say; the current v2 docs say 30.
  { name: "only-old", question: REFUND, feedback: { thumbs: "down", correctedAnswer: "14 days" } },
  { name: "absent", question: REFUND, feedback: { thumbs: "down", correctedAnswer: "90 days from the purchase date" } },
  { name: "list", question: "Which cards do you accept?", feedback: { thumbs: "down", correctedAnswer: "- Visa\n- Mastercard\n- American Express" } },
  { name: "tone", question: TRASH, feedback: { thumbs: "down", correctedAnswer: "Deleted cards stay in the trash for 60 days before they are permanently deleted, we can restore them for you.", text: "too curt, please be friendlier" } },
  // Nothing in the docs shares these words: retrieval returns nothing, the correction is in billing.md.
  { name: "not-retrieved", question: "How do I get my money back on a yearly subscription?", feedback: { thumbs: "down", correctedAnswer: "Annual plans can be refunded within 30 days of payment." } },
  { name: "swallow", question: "What is the airspeed velocity of an unladen swallow?", feedback: { thumbs: "down" } },
  { name: "good", question: TRASH, feedback: { thumbs: "up" } },
  { name: "silent", question: TRASH },
];

test("logs label: stale (correction only in an old version), missing (nowhere), wrong_retrieval, bad_format, wrong_tone, hallucination — stored idempotently", async () => {
  const s = await serve(LABEL_ASKS);
  try {
    const first = labelWindow(s.project, DAY);
    const by = new Map(first.labels.map((l) => [l.requestId, l]));
    const label = (name: string) => by.get(s.ids.get(name)!);
    assert.equal(label("only-old")?.cause, "stale_knowledge");
    assert.equal(label("only-old")?.signal, "correction_only_in_older_version");
    assert.match(label("only-old")!.evidence, /only in an older version of the docs \(docs\/v1\/billing\.md#0, version v1\)/);
    assert.equal(label("absent")?.cause, "missing_knowledge");
    assert.match(label("absent")!.evidence, /"90 days from the purchase date" is in no indexed chunk/);
    // The correction is in the current docs but was not retrieved: evaluate/failures.ts's own rule decides.
    assert.equal(label("not-retrieved")?.cause, "wrong_retrieval");
    assert.equal(label("not-retrieved")?.signal, "gold_not_retrieved");
    assert.equal(label("not-retrieved")?.rule, "failures.ts");
    assert.equal(label("list")?.cause, "bad_format");
    assert.match(label("list")!.evidence, /same facts .* in another form \(a list\)/);
    assert.equal(label("tone")?.cause, "wrong_tone");
    // A thumbs down on a fallback with nothing retrieved: the retrieval-miss monitor's case.
    assert.equal(label("swallow")?.cause, "missing_knowledge");
    assert.deepEqual(label("swallow")?.triggers, ["thumbs_down", "fallback", "retrieval_miss"]);
    assert.equal(label("good"), undefined, "a thumbs up is not a failure");
    assert.equal(label("silent"), undefined, "no feedback and no monitor tripped");
    assert.equal(first.labels.length, 6);

    // Stored in a new table of requests.db, beside (not inside) the requests table.
    const db = new Database(first.file, { readonly: true });
    const cols = (db.prepare("PRAGMA table_info(requests)").all() as { name: string }[]).map((c) => c.name);
    assert.ok(!cols.some((c) => /label|cause/.test(c)), "the requests table is not changed");
    assert.equal((db.prepare("SELECT count(*) AS n FROM request_labels").get() as { n: number }).n, 6);
    db.close();

    // A rerun relabels the same rows; feedback turned into a thumbs up removes the label.
    const log = new RequestLog(first.file);
    log.setFeedback(s.ids.get("list")!, { thumbs: "up", at: new Date().toISOString() });
    log.close();
    const second = labelWindow(s.project, DAY);
    assert.equal(second.labels.length, 5);
    assert.equal(second.removed, 1);
    const store = new LabelStore(first.file);
    assert.equal(store.count(), 5);
    assert.equal(store.forRequests([s.ids.get("only-old")!]).get(s.ids.get("only-old")!)?.cause, "stale_knowledge");
    store.close();

    // An answer the support metric flags (support < 1), with and without a correction.
    const log2 = new RequestLog(first.file);
    const now = new Date().toISOString();
    const base = { time: now, route: "/v1/ask", status: 200, query: REFUND, confidence: 0.6, fallback: false, latencyMs: 3, inputTokens: 10, outputTokens: 10, costUsd: 0, model: "test", indexGeneration: 1, indexFingerprint: "x" };
    log2.record({ ...base, id: "unsupported-1", retrieved: [{ id: "docs/v2/billing.md#0", score: 3 }], answer: "Refunds are possible for three years on premium lifetime bundles.", support: 0 });
    log2.record({ ...base, id: "unsupported-2", retrieved: [{ id: "docs/v2/billing.md#0", score: 3 }], answer: "Refunds are possible for three years on premium lifetime bundles.", support: 0 });
    log2.setFeedback("unsupported-2", { thumbs: "down", correctedAnswer: "Annual plans can be refunded within 30 days of payment.", at: now });
    const rows = [log2.get("unsupported-1")!, log2.get("unsupported-2")!];
    log2.close();
    const [monitorOnly, corrected] = labelRequests(rows, labelIndexOf(s.project));
    assert.equal(monitorOnly.cause, "hallucination");
    assert.equal(monitorOnly.signal, "unsupported_answer");
    assert.deepEqual(monitorOnly.triggers, ["unsupported"]);
    assert.match(monitorOnly.evidence, /support 0\.00 < 1/);
    // With the correction in the retrieved chunk, failures.ts's hallucination rule quotes the unsupported sentence.
    assert.equal(corrected.cause, "hallucination");
    assert.equal(corrected.signal, "unsupported_claims");
    assert.match(corrected.evidence, /"Refunds are possible for three years on premium lifetime bundles\." is not supported/);
  } finally {
    s.close();
  }
});

test("logs list / label CLI: --feedback filter, --json, no log → exit 2 with a clear message", async () => {
  const s = await serve(LABEL_ASKS.slice(0, 3).concat(LABEL_ASKS.slice(6)));
  try {
    const label = await runCli(["logs", "label", "--since", "1d"], s.root);
    assert.equal(label.code, 0, label.stderr);
    assert.match(label.stdout, /3 live failures labelled of 5 requests/);
    assert.match(label.stdout, /stale_knowledge 1/);
    const list = await runCli(["logs", "list", "--feedback", "corrected", "--json"], s.root);
    assert.equal(list.code, 0, list.stderr);
    const listed = JSON.parse(list.stdout) as { requests: { id: string; label: { cause: string } | null }[] };
    assert.equal(listed.requests.length, 3);
    assert.ok(listed.requests.every((r) => r.label !== null), "labels stored by `logs label` are shown");
  } finally {
    s.close();
  }
  const empty = makeTinyProject();
  try {
    for (const args of [["logs", "label"], ["logs", "list"], ["decide", "--from-logs"], ["dataset", "build", "--from-logs"], ["suite", "add-from-logs", "--feedback", "down"]]) {
      const r = await runCli(args, empty);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      if (args[0] !== "decide") assert.match(r.stderr, /no request log at .*requests\.db: start `ragtune serve`/, args.join(" "));
      assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, "no stack trace");
    }
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("decide --from-logs: live failures confirm rag (knowledge) or move it to hybrid (behaviour with corrections); without it the decision is unchanged", async () => {
  const knowledge: Ask[] = [
    { name: "k1", question: REFUND, feedback: { thumbs: "down", correctedAnswer: "14 days" } },
    { name: "k2", question: REFUND, feedback: { thumbs: "down", correctedAnswer: "90 days from the purchase date" } },
    { name: "k3", question: "How do I get my money back on a yearly subscription?", feedback: { thumbs: "down", correctedAnswer: "Annual plans can be refunded within 30 days of payment." } },
    { name: "k4", question: "What is the airspeed velocity of an unladen swallow?", feedback: { thumbs: "down" } },
    { name: "k5", question: "Is there a discount for nonprofit organisations?", feedback: { thumbs: "down", correctedAnswer: "Nonprofits get 50% off every plan." } },
  ];
  const behaviour: Ask[] = [
    { name: "b1", question: "Which cards do you accept?", feedback: { thumbs: "down", correctedAnswer: "- Visa\n- Mastercard\n- American Express" } },
    { name: "b2", question: REFUND, feedback: { thumbs: "down", correctedAnswer: "30 days" } },
    { name: "b3", question: TRASH, feedback: { thumbs: "down", correctedAnswer: "60 days" } },
    { name: "b4", question: TRASH, feedback: { thumbs: "down", correctedAnswer: "Deleted cards stay in the trash for 60 days before they are permanently deleted, happy to help.", text: "too curt" } },
    { name: "b5", question: "Which cards do you accept?", feedback: { thumbs: "down", correctedAnswer: "Visa, Mastercard, American Express." } },
  ];
  for (const [asks, want] of [
    [knowledge, { architecture: "rag", effect: "confirmed", group: "knowledge" }],
    [behaviour, { architecture: "hybrid", effect: "changed", group: "behaviour" }],
  ] as const) {
    const s = await serve(asks, "  labelledExamples: 500\n");
    try {
      const ev = await runCli(["eval", "--json"], s.root);
      assert.equal(ev.code, 0, ev.stderr);
      const plain = await runCli(["decide", "--json"], s.root);
      const withLogs = await runCli(["decide", "--from-logs", "--since", "1d", "--json"], s.root);
      assert.equal(withLogs.code, 0, withLogs.stderr);
      const a = JSON.parse(plain.stdout);
      const b = JSON.parse(withLogs.stdout);
      assert.equal(a.architecture, "rag", "the measured decision");
      assert.equal(a.production, undefined);
      assert.equal(b.architecture, want.architecture);
      assert.equal(b.production.effect, want.effect);
      assert.equal(b.production.labelled, 5);
      assert.equal(b.production.requests, 5);
      assert.equal(b.production.groups[want.group], 5, JSON.stringify(b.production.byCause));
      assert.ok(b.rationale.some((l: string) => /^Production evidence \(.* → .*\): 5 answered requests, 5 labelled live failures/.test(l)), b.rationale.join("\n"));
      if (want.effect === "changed") {
        assert.equal(b.rule, "production-evidence");
        assert.ok(b.rationale.some((l: string) => /changes the recommendation from rag \(measured, rule .*\) to hybrid/.test(l)));
      } else assert.ok(b.rationale.some((l: string) => /This confirms rag/.test(l)));
      // The library without production evidence is the plain decision, byte for byte.
      const project = s.project;
      const runDir = join(s.root, project.config.runsDir, JSON.parse(ev.stdout).runId);
      const summary = readSummary(runDir);
      const cases = readCaseResults(runDir);
      assert.equal(JSON.stringify(decide(summary, cases, project.config)), JSON.stringify(decide(summary, cases, project.config, undefined)));
      const human = await runCli(["decide", "--from-logs"], s.root);
      assert.match(human.stdout, /production evidence: 5 labelled live failures of 5 requests/);
      const report = await runCli(["report", "--from-logs", "--since", "1d"], s.root);
      assert.equal(report.code, 0, report.stderr);
      const rj = JSON.parse(readFileSync(join(runDir, "report.json"), "utf8"));
      assert.equal(rj.recommendation.architecture, want.architecture);
      assert.equal(rj.recommendation.production.effect, want.effect);
      assert.match(readFileSync(join(runDir, "report.md"), "utf8"), /## Production evidence\n\n5 labelled live failures of 5 answered requests/);
      // Too few live failures never move it.
      const few = productionFromLogs(project, DAY).evidence;
      const fewer = { ...few, labelled: 2, groups: { knowledge: 0, behaviour: 2, reasoning: 0 } };
      const kept = decide(summary, cases, project.config, fewer);
      assert.equal(kept.architecture, "rag");
      assert.equal(kept.production?.effect, "kept");
    } finally {
      s.close();
    }
  }
});

test("dataset build --from-logs: corrected answers become qa examples through the usual cleaning; the rest is skipped and counted", async () => {
  const s = await serve([
    { name: "c1", question: "How much does the Pro plan cost per month?", feedback: { thumbs: "down", correctedAnswer: "Pro costs $12 per user per month." } },
    { name: "c2", question: "Can I pay with PayPal?", feedback: { thumbs: "down", correctedAnswer: "No, we accept Visa, Mastercard and American Express only. Contact ops@example.com for invoices." } },
    { name: "c3", question: "Can I pay with PayPal?", feedback: { thumbs: "down", correctedAnswer: "No, we accept Visa, Mastercard and American Express only. Contact ops@example.com for invoices." } },
    // A copy of a suite case: decontamination drops it.
    { name: "c4", question: REFUND, feedback: { thumbs: "down", correctedAnswer: "30 days" } },
    { name: "d1", question: TRASH, feedback: { thumbs: "down" } },
    { name: "n1", question: TRASH },
  ]);
  try {
    const out = join(s.root, "ds");
    const r = await runCli(["dataset", "build", "--from-logs", "--since", "1d", "--pii", "--split", "100,0,0", "--out", out, "--json"], s.root);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.fromLogs.examples, 4);
    assert.deepEqual(
      j.fromLogs.skipped.map((x: { reason: string; count: number }) => [x.reason, x.count]).sort(),
      [["no corrected answer", 1], ["thumbs down without a corrected answer", 1]],
    );
    const train = readFileSync(join(out, "train.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    // c3 duplicates c2 (dedupe), c4 copies the suite (decontamination): two left.
    assert.equal(train.length, 2, JSON.stringify(train));
    assert.ok(train.every((e) => e.task === "qa" && /requests\.db#/.test(e.source)));
    const pro = train.find((e) => /Pro plan/.test(e.input));
    assert.equal(pro.output, "Pro costs $12 per user per month.");
    assert.ok(!train.some((e) => e.output.includes("ops@example.com")), "PII scrubbed by the dataset scrubber");
    assert.ok(j.steps.some((x: { step: string; removed: number }) => x.step === "decontaminate" && x.removed === 1), JSON.stringify(j.steps));

    const none = await serve([{ name: "x", question: TRASH, feedback: { thumbs: "down" } }]);
    try {
      const bad = await runCli(["dataset", "build", "--from-logs"], none.root);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--from-logs: no corrected answers among the 1 logged requests of the window \(1 thumbs down without a corrected answer\)/);
    } finally {
      none.close();
    }
  } finally {
    s.close();
  }
});

test("suite add-from-logs: cases load with the suite loader, keep the file's content, and a rerun adds no duplicates", async () => {
  const s = await serve([
    { name: "c1", question: "How do I get my money back on a yearly subscription?", feedback: { thumbs: "down", correctedAnswer: "Annual plans can be refunded within 30 days of payment." } },
    { name: "c2", question: "Do you support SAML single sign-on?", feedback: { thumbs: "down", correctedAnswer: "I don't know, the docs do not cover this." } },
    { name: "d1", question: TRASH, feedback: { thumbs: "down" } },
  ]);
  try {
    const suiteFile = join(s.root, "suite.yaml");
    const before = loadSuite(suiteFile).cases.length;
    writeFileSync(suiteFile, `# hand-written cases: keep this comment\n${readFileSync(suiteFile, "utf8")}`);
    const r = await runCli(["suite", "add-from-logs", "--feedback", "down", "--since", "1d", "--json"], s.root);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.added.length, 2);
    assert.equal(j.skipped.length, 1);
    assert.match(j.skipped[0].reason, /no corrected answer/);
    const text = readFileSync(suiteFile, "utf8");
    assert.match(text, /# hand-written cases: keep this comment/);
    const suite = loadSuite(suiteFile);
    assert.equal(suite.cases.length, before + 2);
    const c1 = suite.cases.find((c) => c.id === `log-${s.ids.get("c1")}`)!;
    assert.deepEqual(c1.answer, ["Annual plans can be refunded within 30 days of payment."]);
    assert.deepEqual(c1.sources, ["docs/v2/billing.md#0"], "source hint: the current chunk that holds the correction");
    const c2 = suite.cases.find((c) => c.id === `log-${s.ids.get("c2")}`)!;
    assert.equal(c2.must_abstain, true, "the right outcome was the fallback");

    const again = await runCli(["suite", "add-from-logs", s.ids.get("c1")!, s.ids.get("c2")!, "--json"], s.root);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout).added, []);
    assert.equal(JSON.parse(again.stdout).duplicates.length, 2);
    assert.equal(loadSuite(suiteFile).cases.length, before + 2);

    // A separate part file: created, loads alone, and the CLI says it is not included yet.
    const part = join(s.root, "suite-parts", "from-logs.yaml");
    const p = await runCli(["suite", "add-from-logs", s.ids.get("c1")!, "--to", part], s.root);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /0 cases added/, "already in the project's suite: a duplicate");
    rmSync(part, { force: true });
    const unknown = await runCli(["suite", "add-from-logs", "nope"], s.root);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown request id 'nope'/);
    assert.ok(!existsSync(part));
  } finally {
    s.close();
  }
});
