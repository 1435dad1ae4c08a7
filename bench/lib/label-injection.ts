/**
 * The labeller benchmark's core: take a case that passes (rag variant), inject one failure cause
 * through the real pipeline — a changed index, a changed retrieval, or a generator that returns a
 * crafted output — then score it with the real scorers and label it with the real `labelFailure`,
 * exactly as the runner does. The injected cause is the known-right label; the confusion matrix
 * counts what the labeller assigned.
 *
 * Injections (one per cause):
 * - missing_knowledge: the gold document and its copies in other versions are not in the index
 *   (`withoutDocuments` builds that index); real retrieval and generator.
 * - stale_knowledge: retrieval serves only the older versions (cases with `stale_answers`).
 * - wrong_retrieval: retrieval returns k chunks of unrelated documents (seeded), real generator.
 * - hallucination: the answer is a claim no context chunk contains (cited as if supported); for
 *   must_abstain cases, answering at all.
 * - bad_format: extract output is truncated JSON; classify output is a label outside the suite's.
 * - wrong_tone: the passing answer opened with phrasing the case's tone rule bans (the house rule
 *   below is attached to cases without one).
 * - policy_violation: the passing answer plus a sentence the case's policy forbids (house rule
 *   attached likewise).
 * - weak_reasoning: with real retrieval (gold in context), the answer quotes a gold-chunk sentence
 *   that does not answer; classify picks another valid label; extract changes one field.
 *
 * Judge mode (`env.judge`): every injected run is also judged (the five LLM judges, as the runner
 * runs them), every qa case carries the house rubric and the house policy in words, and the tone
 * and policy injections break those word rules only — no deterministic pattern — so those two
 * causes can only be named from judge evidence.
 */
import type { ChatProvider, Citation, ContextChunk, GenerateRequest, GenerateResult, Generator } from "../../src/models/index.ts";
import type { JudgeName } from "../../src/config/schema.ts";
import { applicableJudges, runJudge, verdictToScore } from "../../src/evaluate/judges/index.ts";
import type { Project } from "../../src/pipeline/index.ts";
import { buildVariants } from "../../src/pipeline/index.ts";
import type { Hit } from "../../src/retrieve/index.ts";
import type { RetrievalPipeline } from "../../src/retrieve/pipeline.ts";
import { caseVerdict } from "../../src/evaluate/verdict.ts";
import { jsonValuesEqual, matchAnswer, parseSource, scoreCase, scoreJsonSchema, sourceMatches } from "../../src/evaluate/scorers.ts";
import { FAILURE_CAUSES, type FailureCause, type FailureLabel, type JudgeVerdict, type ScoreResult, type Suite, type SuiteCase } from "../../src/evaluate/types.ts";
import { answerUnits, isOlderCopyOf } from "../../src/evaluate/stale.ts";
import { hasSnapshots } from "../../src/store/index.ts";
import { join } from "node:path";
import { mulberry32 } from "./rng.ts";

/** The house rules attached to a case that has none of its own (tone / policy injections). */
export const HOUSE_TONE = { must_not_include: ["obviously", "calm down"] };
export const HOUSE_FORBIDDEN = ["we (will|can) waive (the|your) fees?"];
/**
 * Judge mode: the same house rules in words, for the tone and policy judges (every qa case gets
 * them, so a judge that fires wrongly on a case injected with another cause shows in the matrix).
 */
export const HOUSE_RUBRIC = 'Stay calm, friendly and factual. Never say "obviously" or "calm down".';
export const HOUSE_POLICY = 'Never offer to waive a fee ("waive the fee", "waive your fee", "waive the fees", "waive your fees").';
const TONE_OPENER = "Obviously, ";
const POLICY_SENTENCE = "As a one-off, we will waive the fee for you.";
/** Claims no help-centre page makes (hallucination injection); picked per case. */
const FABRICATIONS = [
  "This is handled by the Zephyr compliance desk, which replies within 9 minutes [1].",
  "Each workspace gets 4,096 bonus credits per quarter for this [1].",
  "The feature is only available in the Lunar edition launched in 2031 [1].",
  "You must first file form QX-17 with your regional account warden [1].",
];

export interface CaseRun {
  passed: boolean;
  failure?: FailureLabel;
  scores: ScoreResult[];
  output: GenerateResult;
  context: ContextChunk[];
  /** Judge mode: the judges' verdicts. */
  judges?: JudgeVerdict[];
}

export interface RunOptions {
  /** Replaces the project's generator (a crafted output). */
  generator?: Generator;
  /** Replaces the project's answering retrieval. */
  retrieval?: RetrievalPipeline;
  /** The corpus's current version label (default: the project's newest). */
  currentVersion?: string;
  /** Run the LLM judges too (judge mode), as the runner does with `models.judge` set. */
  judge?: JudgeSetup;
}

/** The judge a run uses: a chat provider (the local heuristic server, or a real model) and which judges. */
export interface JudgeSetup {
  provider: ChatProvider;
  judges: JudgeName[];
}

/** Judge mode: a qa case carries the house rubric, unless it has its own (the tone judge then applies). */
export function withJudgeRules(c: SuiteCase): SuiteCase {
  return c.task === "qa" && !c.tone?.rubric ? { ...c, tone: { ...c.tone, rubric: HOUSE_RUBRIC } } : c;
}

/** Judge mode: the suite's policies plus the house policy. */
export const judgePolicies = (suite: Suite): string[] => [...(suite.policies ?? []), HOUSE_POLICY];

/** One case through the rag variant, scored and labelled as `evaluate/runner.ts` does (judges off). */
export async function runRagCase(project: Project, suite: Suite, c: SuiteCase, options: RunOptions = {}): Promise<CaseRun> {
  const view: Project = options.retrieval ? { ...project, retrieval: async () => options.retrieval! } : project;
  const { variants } = buildVariants(view, ["rag"], options.generator ?? project.generator());
  const out = await variants[0].run({ task: c.task, input: c.input, labels: c.task === "classify" ? suite.labels : undefined, jsonSchema: c.json_schema });
  const { result } = out;
  const output = { text: result.text, abstained: result.abstained, label: result.label, json: result.json, citations: result.citations };
  const scores = scoreCase(c, output);
  // Judges as evaluate/runner.ts runs them: each applicable one, its verdict also a `judge.*` score.
  let judges: JudgeVerdict[] | undefined;
  if (options.judge) {
    c = withJudgeRules(c);
    const judgeSuite = { policies: judgePolicies(suite) };
    const names = applicableJudges(c, judgeSuite, options.judge.judges, { answered: !result.abstained, hasContext: out.context.length > 0 });
    if (names.length > 0) {
      judges = [];
      for (const name of names) {
        const verdict = await runJudge(name, { case: c, suite: judgeSuite, output, context: out.context }, options.judge.provider);
        judges.push(verdict);
        scores.push(verdictToScore(verdict));
      }
    }
  }
  const { passed, failure } = caseVerdict({
    case: c,
    output,
    scores,
    variant: { usesContext: true, usesRetrieval: true },
    out,
    k: project.config.retrieval.k,
    currentVersion: options.currentVersion ?? project.versions().labels[0],
    corpusPaths: new Set(project.store.documents().map((d) => d.path)),
    labels: suite.labels,
    ...(judges ? { judges } : {}),
  });
  return { passed, failure, scores, output: result, context: out.context, ...(judges ? { judges } : {}) };
}

/** A generator that returns what `craft` makes of the request (the context the pipeline gave it). */
export function craftedGenerator(id: string, craft: (req: GenerateRequest) => Partial<GenerateResult> & { text: string }): Generator {
  return {
    id: `crafted:${id}`,
    async generate(req) {
      return { citations: [], abstained: false, usage: { inputTokens: 0, outputTokens: 0 }, generator: `crafted:${id}`, ...craft(req) };
    },
  };
}

/** The project's retrieval with each call's hits replaced by `change(query, hits)`. */
async function changedRetrieval(project: Project, name: string, change: (hits: Hit[], query: string) => Hit[] | Promise<Hit[]>, filterVersions?: string[]): Promise<RetrievalPipeline> {
  const real = await project.retrieval();
  return {
    name: `${real.name} → ${name}`,
    async retrieve(query, options) {
      const opts = filterVersions ? { ...options, filter: { ...options.filter, versions: filterVersions } } : options;
      return change(await real.retrieve(query, opts), query);
    },
  };
}

const citationOf = (ch: ContextChunk, marker: number): Citation => ({
  marker,
  chunkId: ch.id,
  path: ch.path,
  headingPath: ch.headingPath,
  lineStart: ch.lineStart,
  lineEnd: ch.lineEnd,
  version: ch.version,
});

/** A document path with its version folder left out: the same page in every version. */
export function pageKey(path: string, version: string): string {
  return version ? path.split("/").filter((seg) => seg !== version).join("/") : path;
}

/** Every indexed path that is a gold source of `c`, or a copy of one in another version. */
export function goldFamily(project: Project, c: SuiteCase): string[] {
  const docs = project.store.documents();
  const gold = new Set((c.sources ?? []).map((s) => parseSource(s).path));
  const keys = new Set(docs.filter((d) => gold.has(d.path)).map((d) => pageKey(d.path, d.version)));
  return docs.filter((d) => gold.has(d.path) || keys.has(pageKey(d.path, d.version))).map((d) => d.path);
}

export interface Injection {
  cause: FailureCause;
  /** Whether this injection can be made on the case. */
  applies(c: SuiteCase, baseline: CaseRun): boolean;
  run(env: InjectionEnv, c: SuiteCase, baseline: CaseRun, index: number): Promise<CaseRun>;
}

export interface InjectionEnv {
  project: Project;
  suite: Suite;
  /** A project whose index lacks these documents (missing_knowledge); closed by the caller. */
  withoutDocuments(paths: string[]): Promise<Project>;
  /** Judge mode: every injected run is judged too (the baseline that picks the cases is not). */
  judge?: JudgeSetup;
}

/**
 * `withoutDocuments` over a copy of the real index (written into `scratchDir`) with those documents
 * removed — what an ingest after deleting the files leaves — read with the same config.
 */
export function indexWithout(project: Project, scratchDir: string): InjectionEnv["withoutDocuments"] {
  let copies = 0;
  return async (paths) => {
    if (!hasSnapshots(project.store)) throw new Error("the store cannot be copied");
    const file = join(scratchDir, `index-without-${copies++}.db`);
    project.store.snapshotTo(file);
    const copy = project.withIndex(file);
    copy.store.applyIngest({ upserts: [], removals: paths });
    return copy;
  };
}

const isQa = (c: SuiteCase) => c.task === "qa" && !c.must_abstain;
const hasGold = (c: SuiteCase) => isQa(c) && (c.sources?.length ?? 0) > 0;
const answered = (b: CaseRun) => !b.output.abstained;

export const INJECTIONS: Injection[] = [
  {
    cause: "missing_knowledge",
    applies: hasGold,
    async run(env, c) {
      const without = await env.withoutDocuments(goldFamily(env.project, c));
      try {
        return await runRagCase(without, env.suite, c, { currentVersion: env.project.versions().labels[0], judge: env.judge });
      } finally {
        without.close();
      }
    },
  },
  {
    cause: "stale_knowledge",
    applies: (c) => isQa(c) && (c.stale_answers?.length ?? 0) > 0,
    async run(env, c) {
      const [current, ...older] = env.project.versions().labels;
      const retrieval = await changedRetrieval(env.project, "older versions only", (hits) => hits, older);
      return runRagCase(env.project, env.suite, c, { retrieval, currentVersion: current, judge: env.judge });
    },
  },
  {
    cause: "wrong_retrieval",
    applies: hasGold,
    async run(env, c, _b, index) {
      // Unrelated: no version of a gold page, and no chunk under a gold section's heading elsewhere.
      const family = new Set(goldFamily(env.project, c));
      const current = env.project.versions().labels[0];
      const unrelated = env.project.store.chunks().filter((ch) => !family.has(ch.path) && !(c.sources ?? []).some((s) => sourceMatches(s, ch) || isOlderCopyOf(s, ch, current)));
      const rng = mulberry32(1000 + index);
      const k = env.project.config.retrieval.k;
      const retrieval = await changedRetrieval(env.project, "unrelated chunks", () => {
        const pool = [...unrelated];
        const picked: Hit[] = [];
        while (picked.length < k && pool.length > 0) picked.push({ chunk: pool.splice(Math.floor(rng() * pool.length), 1)[0], score: 1 / (picked.length + 1) } as Hit);
        return picked;
      });
      return runRagCase(env.project, env.suite, c, { retrieval, judge: env.judge });
    },
  },
  {
    cause: "hallucination",
    applies: (c) => c.task === "qa" && (c.must_abstain === true || (c.sources?.length ?? 0) > 0),
    async run(env, c, _b, index) {
      const claim = FABRICATIONS[index % FABRICATIONS.length];
      const generator = craftedGenerator("hallucination", (req) => ({
        text: req.context.length > 0 ? claim : claim.replace(" [1]", ""),
        citations: req.context.length > 0 ? [citationOf(req.context[0], 1)] : [],
      }));
      return runRagCase(env.project, env.suite, c, { generator, judge: env.judge });
    },
  },
  {
    cause: "bad_format",
    applies: (c) => (c.task === "extract" && c.expected_json !== undefined) || (c.task === "classify" && c.label !== undefined),
    async run(env, c) {
      const generator = craftedGenerator("bad-format", () => {
        if (c.task === "extract") {
          const json = JSON.stringify(c.expected_json);
          return { text: json.slice(0, Math.max(1, json.length - 4)), json: undefined };
        }
        return { text: "Label: general_question_about_everything", label: "general_question_about_everything" };
      });
      return runRagCase(env.project, env.suite, c, { generator, judge: env.judge });
    },
  },
  {
    cause: "wrong_tone",
    applies: (c, b) => c.task === "qa" && answered(b),
    async run(env, c, b) {
      // Judge mode: the house rule is given in words (a rubric) and only the tone judge can see it.
      const own = c.tone?.must_not_include?.[0];
      const banned = own ?? HOUSE_TONE.must_not_include[0];
      const ruled: SuiteCase = env.judge
        ? { ...c, tone: { ...c.tone, rubric: `${c.tone?.rubric ?? HOUSE_RUBRIC}${own ? ` Never say "${own}".` : ""}` } }
        : { ...c, tone: own ? c.tone : { ...c.tone, ...HOUSE_TONE } };
      const opener = banned.toLowerCase() === "obviously" ? TONE_OPENER : `${banned[0].toUpperCase()}${banned.slice(1)}: `;
      const generator = craftedGenerator("wrong-tone", () => ({ ...b.output, text: `${opener}${b.output.text}` }));
      return runRagCase(env.project, env.suite, ruled, { generator, judge: env.judge });
    },
  },
  {
    cause: "policy_violation",
    applies: (c, b) => c.task === "qa" && answered(b),
    async run(env, c, b) {
      // Judge mode: the house policy is in words (judgePolicies) and only the policy judge can see it.
      const ruled: SuiteCase = env.judge ? c : { ...c, forbidden: [...(c.forbidden ?? []), ...HOUSE_FORBIDDEN] };
      const generator = craftedGenerator("policy", () => ({ ...b.output, text: `${b.output.text} ${POLICY_SENTENCE}` }));
      return runRagCase(env.project, env.suite, ruled, { generator, judge: env.judge });
    },
  },
  {
    cause: "weak_reasoning",
    applies: (c, b) => (hasGold(c) && b.context.some((ch) => (c.sources ?? []).some((s) => sourceMatches(s, ch)))) || (c.task === "classify" && c.label !== undefined && b.output.label !== undefined) || (c.task === "extract" && c.expected_json !== undefined),
    async run(env, c) {
      const generator = craftedGenerator("weak-reasoning", (req) => {
        if (c.task === "classify") {
          const other = env.suite.labels.find((l) => l.name !== c.label) ?? { name: c.label! };
          return { text: other.name, label: other.name };
        }
        if (c.task === "extract") {
          const json = wrongField(c, env.suite.cases);
          return { text: JSON.stringify(json), json };
        }
        return wrongSentenceFromGold(c, req.context);
      });
      return runRagCase(env.project, env.suite, c, { generator, judge: env.judge });
    },
  },
];

/**
 * The expected JSON with one field changed to a wrong value the schema still accepts: another
 * case's value for that field, another enum value, a shifted number, a flipped boolean.
 */
function wrongField(c: SuiteCase, cases: SuiteCase[]): Record<string, unknown> {
  const expected = c.expected_json as Record<string, unknown>;
  const schemaOk = (json: Record<string, unknown>) => !c.json_schema || scoreJsonSchema(c.json_schema, { text: JSON.stringify(json), abstained: false, json }).pass;
  for (const key of Object.keys(expected)) {
    const v = expected[key];
    const props = (c.json_schema?.properties ?? {}) as Record<string, { enum?: unknown[] }>;
    const candidates = [
      ...cases.map((o) => (o.expected_json as Record<string, unknown> | undefined)?.[key]).filter((x) => x !== undefined),
      ...(props[key]?.enum ?? []),
      ...(typeof v === "number" ? [v + 7] : typeof v === "boolean" ? [!v] : []),
    ];
    for (const w of candidates) {
      const json = { ...expected, [key]: w };
      if (!jsonValuesEqual(v, w) && schemaOk(json)) return json;
    }
  }
  return { ...expected, [Object.keys(expected)[0] ?? "unexpected"]: null };
}

/** A sentence of a gold chunk in context that states none of the expected answers, cited. */
function wrongSentenceFromGold(c: SuiteCase, context: ContextChunk[]): Pick<GenerateResult, "text" | "citations"> {
  const expected = [...(c.answer ?? []), ...(c.contains ?? [])];
  for (const [i, ch] of context.entries()) {
    if (!(c.sources ?? []).some((s) => sourceMatches(s, ch))) continue;
    for (const unit of answerUnits(ch.text)) {
      const text = unit.text.replace(/^#+\s*/, "").trim();
      if (text.split(/\s+/).length < 5) continue;
      if (expected.length > 0 && matchAnswer(expected, text) !== undefined) continue;
      if (c.stale_answers?.length && matchAnswer(c.stale_answers, text) !== undefined) continue;
      return { text: `${text} [${i + 1}]`, citations: [citationOf(ch, i + 1)] };
    }
  }
  return { text: "I could not work it out from the passages.", citations: [] };
}

// The matrix ---------------------------------------------------------------------------------------

export interface InjectionOutcome {
  caseId: string;
  /** The suite file that defines the case (dev.yaml / holdout.yaml for the corpora). */
  file: string;
  injected: FailureCause;
  /** The assigned cause; "passed" when the injection did not make the case fail. */
  assigned: FailureCause | "passed";
  signal?: string;
  evidence?: string;
}

export interface CauseAccuracy {
  cause: FailureCause;
  /** Injected cases that failed (the ones a label can be right or wrong about). */
  failed: number;
  correct: number;
  accuracy: number | null;
  /** Injections that did not make the case fail. */
  stillPassed: number;
}

export interface LabelBenchResult {
  matrix: Record<FailureCause, Record<FailureCause, number>>;
  perCause: CauseAccuracy[];
  /** Every failed injection over all causes. */
  overall: { failed: number; correct: number; accuracy: number | null };
}

export function confusion(outcomes: InjectionOutcome[]): LabelBenchResult {
  const matrix = Object.fromEntries(FAILURE_CAUSES.map((a) => [a, Object.fromEntries(FAILURE_CAUSES.map((b) => [b, 0]))])) as LabelBenchResult["matrix"];
  for (const o of outcomes) if (o.assigned !== "passed") matrix[o.injected][o.assigned]++;
  const perCause = FAILURE_CAUSES.map((cause) => {
    const failed = FAILURE_CAUSES.reduce((n, b) => n + matrix[cause][b], 0);
    const correct = matrix[cause][cause];
    const stillPassed = outcomes.filter((o) => o.injected === cause && o.assigned === "passed").length;
    return { cause, failed, correct, accuracy: failed ? correct / failed : null, stillPassed };
  });
  const failed = perCause.reduce((n, p) => n + p.failed, 0);
  const correct = perCause.reduce((n, p) => n + p.correct, 0);
  return { matrix, perCause, overall: { failed, correct, accuracy: failed ? correct / failed : null } };
}

/**
 * Judge mode: the passing baselines judged too. Nothing was injected, so each one the judges fail
 * is a false alarm; its label says which cause the labeller would wrongly report.
 */
export interface FalseAlarms {
  judged: number;
  failed: number;
  byCause: Partial<Record<FailureCause, number>>;
}

/**
 * Run every baseline case (offline scorers, no judge: the same cases in every mode); inject each
 * applicable cause into the ones that pass.
 */
export async function injectAll(
  env: InjectionEnv,
  cases: SuiteCase[] = env.suite.cases,
): Promise<{ outcomes: InjectionOutcome[]; baselinePassed: number; baselineTotal: number; falseAlarms?: FalseAlarms }> {
  const outcomes: InjectionOutcome[] = [];
  let baselinePassed = 0;
  const falseAlarms: FalseAlarms | undefined = env.judge ? { judged: 0, failed: 0, byCause: {} } : undefined;
  for (const [index, c] of cases.entries()) {
    const baseline = await runRagCase(env.project, env.suite, c);
    if (!baseline.passed) continue;
    baselinePassed++;
    if (env.judge && falseAlarms) {
      const judged = await runRagCase(env.project, env.suite, c, { judge: env.judge });
      falseAlarms.judged++;
      if (!judged.passed) {
        falseAlarms.failed++;
        const cause = judged.failure?.cause;
        if (cause) falseAlarms.byCause[cause] = (falseAlarms.byCause[cause] ?? 0) + 1;
      }
    }
    for (const inj of INJECTIONS) {
      if (!inj.applies(c, baseline)) continue;
      const r = await inj.run(env, c, baseline, index);
      outcomes.push({ caseId: c.id, file: c.file, injected: inj.cause, assigned: r.passed ? "passed" : r.failure?.cause ?? "passed", signal: r.failure?.signal, evidence: r.failure?.evidence });
    }
  }
  return { outcomes, baselinePassed, baselineTotal: cases.length, ...(falseAlarms ? { falseAlarms } : {}) };
}
