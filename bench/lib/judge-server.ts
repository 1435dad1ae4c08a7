/**
 * A local stand-in for an LLM judge, for the labeller benchmark's --judge mode (bench/labels.ts):
 * an HTTP server that speaks the OpenAI chat-completions protocol and answers ragtune's five judge
 * prompts with a transparent, deterministic HEURISTIC computed only from what the prompt contains.
 * It is not a language model: the matrix it produces measures how the labeller uses judge
 * evidence, not how accurate a real LLM judge is. It never sees the injected cause — only the
 * rendered prompt (question, reference, answer, context, rubric, policies) — so any cause it helps
 * name is inferred from the same text a real judge would read.
 *
 * The heuristics (one per judge, picked by the request's `response_format` schema name):
 * - correctness: some reference answer (and every required phrase) has ≥ 75% of its content words
 *   in one sentence of the answer;
 * - faithfulness: each answer sentence with ≥ 3 content words is a claim; supported when ≥ 75% of
 *   its content words are in one context passage;
 * - tone: quoted phrases in a rubric sentence that forbids ("never", "avoid", "do not", …) must not
 *   appear in the answer; quoted phrases in a sentence that requires ("must", "always", …) must;
 * - policy: quoted phrases in a policy that forbids must not appear; without quotes, a sentence of
 *   the answer holding every content word after the negation (by 5-letter prefix) violates it;
 * - relevance: the answer shares at least one content word with the question.
 *
 * `noise` P flips a seeded, deterministic fraction P of verdicts (a hash of seed + prompt, so the
 * same prompt always gets the same flip): how labels degrade with an unreliable judge.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type HeuristicJudgeName = "correctness" | "faithfulness" | "relevance" | "tone" | "policy";
const NAMES: HeuristicJudgeName[] = ["correctness", "faithfulness", "relevance", "tone", "policy"];

export interface JudgeServerOptions {
  /** Share of verdicts flipped, 0..1 (default 0). */
  noise?: number;
  /** Seed of the flips (default 1). */
  seed?: number;
}

export interface JudgeServer {
  /** Base URL for a provider of kind openai: `http://127.0.0.1:<port>/v1`. */
  url: string;
  /** Requests answered, per judge, and how many verdicts were flipped. */
  stats: { requests: number; byJudge: Record<string, number>; flipped: number };
  close(): Promise<void>;
}

const STOP = new Set(
  "a an the and or but if then of to in on at by for with from as is are was were be been being it its this that these those there here do does did can could should would will shall may might must i you we they he she my your our their me us them what which who whom when where why how not no yes so than too very just also only any all each every some such into onto about over under out up down off again more most other own same s t don doesn isn aren wasn weren hasn haven hadn won wouldn shouldn couldn via per".split(
    " ",
  ),
);

/** Lower-case content words (letters/digits), citation markers and stop words left out. */
export function contentWords(text: string): string[] {
  return text
    .replace(/\[\d+(?:\s*[,\u2013-]\s*\d+)*\]/g, " ")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w !== "" && !STOP.has(w));
}

/** Sentences of a text (line breaks, sentence ends, citation-marker groups). */
export function sentences(text: string): string[] {
  return text
    .split(/\n+|(?<=[.!?])\s+|(?<=\])\s+(?!\[)/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** Share of `need`'s content words found in `have`. */
function recall(need: string[], have: Set<string>): number {
  if (need.length === 0) return 1;
  return need.filter((w) => have.has(w)).length / need.length;
}

/** The text between <tag> and </tag> in the prompt ("" when absent). */
export function section(prompt: string, tag: string): string {
  const m = new RegExp(`<${tag}>\\n?([\\s\\S]*?)\\n?</${tag}>`).exec(prompt);
  return m ? m[1].trim() : "";
}

/** Phrases in quotes ("…", “…”, '…' with a space inside or a single word) in a sentence. */
function quoted(text: string): string[] {
  return [...text.matchAll(/"([^"]+)"|“([^”]+)”|'([^']+)'/g)].map((m) => (m[1] ?? m[2] ?? m[3]).trim()).filter((s) => s !== "");
}

const NEGATION = /\b(never|avoid|don't|do not|does not|must not|mustn't|no|not|without|forbid|forbidden|ban|banned)\b/i;
const REQUIREMENT = /\b(must|always|include|includes|start with|end with|required|should)\b/i;
const includesPhrase = (text: string, phrase: string) => text.toLowerCase().replace(/\s+/g, " ").includes(phrase.toLowerCase().replace(/\s+/g, " "));

interface Verdict {
  reasoning: string;
  verdict: "pass" | "fail";
  score: number;
}

function correctness(prompt: string): Verdict {
  const reference = section(prompt, "reference");
  const answer = section(prompt, "answer");
  const lines = reference.split("\n");
  const alternatives: string[] = [];
  const required: string[] = [];
  let mode: "single" | "any" | "all" = "single";
  for (const line of lines) {
    if (/^Any one of these is a correct answer:/.test(line)) mode = "any";
    else if (/^The answer must state all of:/.test(line)) mode = "all";
    else if (/^- /.test(line) && mode !== "single") (mode === "any" ? alternatives : required).push(line.slice(2));
    else if (line.trim() !== "" && mode === "single") alternatives.push(line.trim());
  }
  const units = sentences(answer).map((s) => new Set(contentWords(s)));
  const best = (phrase: string) => Math.max(0, ...units.map((u) => recall(contentWords(phrase), u)));
  const altScore = alternatives.length ? Math.max(...alternatives.map(best)) : 1;
  const reqScores = required.map(best);
  const ok = altScore >= 0.75 && reqScores.every((s) => s >= 0.75);
  const score = Math.min(altScore, ...reqScores, 1);
  return {
    reasoning: `heuristic: best reference word recall in one answer sentence ${altScore.toFixed(2)}${required.length ? `, required phrases ${reqScores.map((s) => s.toFixed(2)).join("/")}` : ""} (pass at 0.75)`,
    verdict: ok ? "pass" : "fail",
    score: Number(score.toFixed(3)),
  };
}

function faithfulness(prompt: string): { reasoning: string; claims: { claim: string; supported: boolean; evidence: string }[] } {
  const context = section(prompt, "context");
  const passages = context
    .split(/\n(?=\[\d+\] \()/)
    .map((p) => ({ marker: /^\[(\d+)\]/.exec(p)?.[1] ?? "?", words: new Set(contentWords(p.replace(/^\[\d+\] \([^\n]*\)\n?/, ""))) }));
  const claims = sentences(section(prompt, "answer"))
    .filter((s) => contentWords(s).length >= 3)
    .map((claim) => {
      const words = contentWords(claim);
      let best = { marker: "?", r: 0 };
      for (const p of passages) {
        const r = recall(words, p.words);
        if (r > best.r) best = { marker: p.marker, r };
      }
      const supported = best.r >= 0.75;
      return { claim, supported, evidence: supported ? `[${best.marker}] (${Math.round(best.r * 100)}% of the claim's words)` : "" };
    });
  const bad = claims.filter((c) => !c.supported).length;
  return { reasoning: `heuristic: ${claims.length - bad} of ${claims.length} claims have ≥ 75% of their words in one passage`, claims };
}

function tone(prompt: string): Verdict {
  const rubric = section(prompt, "rubric");
  const answer = section(prompt, "answer");
  const problems: string[] = [];
  let checks = 0;
  for (const s of sentences(rubric)) {
    const phrases = quoted(s);
    if (phrases.length === 0) continue;
    const forbids = NEGATION.test(s);
    if (!forbids && !REQUIREMENT.test(s)) continue;
    for (const p of phrases) {
      checks++;
      const present = includesPhrase(answer, p);
      if (forbids && present) problems.push(`uses "${p}"`);
      if (!forbids && !present) problems.push(`lacks "${p}"`);
    }
  }
  return {
    reasoning: problems.length ? `heuristic: the reply ${problems.join(", ")} against the rubric` : `heuristic: ${checks} quoted rubric phrase check${checks === 1 ? "" : "s"} met`,
    verdict: problems.length ? "fail" : "pass",
    score: checks ? Number(((checks - problems.length) / checks).toFixed(3)) : 1,
  };
}

/** A word matches another by its first five letters (waive/waived/waiving, fee/fees). */
const stem = (w: string) => w.slice(0, 5);

function policy(prompt: string): { reasoning: string; violations: string[]; verdict: "pass" | "fail" } {
  const answer = section(prompt, "answer");
  const answerSentences = sentences(answer).map((s) => ({ s, stems: new Set(contentWords(s).map(stem)) }));
  const violations: string[] = [];
  const policies = section(prompt, "policies")
    .split("\n")
    .map((l) => l.replace(/^\s*-\s*/, "").trim())
    .filter((l) => l !== "");
  for (const p of policies) {
    const neg = NEGATION.exec(p);
    if (!neg) continue;
    const phrases = quoted(p);
    if (phrases.length > 0) {
      const hit = phrases.find((ph) => includesPhrase(answer, ph));
      if (hit) violations.push(`${p.replace(/\s*\(.*$/, "")}: "${hit}"`);
      continue;
    }
    const need = contentWords(p.slice(neg.index + neg[0].length)).map(stem);
    const hit = need.length > 0 ? answerSentences.find((a) => need.every((w) => a.stems.has(w))) : undefined;
    if (hit) violations.push(`${p}: "${hit.s}"`);
  }
  return {
    reasoning: `heuristic: ${violations.length} of ${policies.length} polic${policies.length === 1 ? "y" : "ies"} matched by forbidden phrases or words`,
    violations,
    verdict: violations.length ? "fail" : "pass",
  };
}

function relevance(prompt: string): Verdict {
  const q = new Set(contentWords(section(prompt, "question")));
  const a = contentWords(section(prompt, "answer"));
  const shared = new Set(a.filter((w) => q.has(w))).size;
  return { reasoning: `heuristic: the answer shares ${shared} content word${shared === 1 ? "" : "s"} with the question (pass at 1)`, verdict: shared > 0 ? "pass" : "fail", score: q.size ? Number(Math.min(1, shared / q.size).toFixed(3)) : 1 };
}

/** The heuristic judge's reply object for one prompt (what a real judge would return as JSON). */
export function heuristicVerdict(name: HeuristicJudgeName, prompt: string): Record<string, unknown> {
  switch (name) {
    case "correctness":
      return { ...correctness(prompt) };
    case "faithfulness":
      return faithfulness(prompt);
    case "tone":
      return { ...tone(prompt) };
    case "policy":
      return policy(prompt);
    case "relevance":
      return { ...relevance(prompt) };
  }
}

const FLIP_NOTE = " [verdict flipped by --judge-noise]";

/** The reply with its verdict reversed (noise). */
export function flipVerdict(name: HeuristicJudgeName, reply: Record<string, unknown>): Record<string, unknown> {
  const reasoning = `${String(reply.reasoning ?? "")}${FLIP_NOTE}`;
  if (name === "faithfulness") {
    const claims = (reply.claims as { claim: string; supported: boolean; evidence: string }[]) ?? [];
    if (claims.some((c) => !c.supported)) return { reasoning, claims: claims.map((c) => ({ ...c, supported: true })) };
    return { reasoning, claims: claims.length ? claims.map((c, i) => (i === 0 ? { ...c, supported: false, evidence: "" } : c)) : [{ claim: "(noise)", supported: false, evidence: "" }] };
  }
  if (name === "policy") {
    return reply.verdict === "pass" ? { reasoning, violations: ["(noise): a violation invented by --judge-noise"], verdict: "fail" } : { reasoning, violations: [], verdict: "pass" };
  }
  const pass = reply.verdict === "pass";
  return { reasoning, verdict: pass ? "fail" : "pass", score: pass ? 0 : 1 };
}

/** FNV-1a of the text, mixed with the seed, as a number in [0, 1). */
export function unitHash(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  h ^= h >>> 12;
  return (h >>> 0) / 2 ** 32;
}

/** Which judge a chat-completions request is for: the schema name `judge_<name>`, else the prompt's opening. */
function judgeOf(body: { response_format?: { json_schema?: { name?: string } }; messages?: { role: string; content: string }[] }): HeuristicJudgeName | undefined {
  const n = body.response_format?.json_schema?.name?.replace(/^judge_/, "");
  if (n && (NAMES as string[]).includes(n)) return n as HeuristicJudgeName;
  const user = body.messages?.find((m) => m.role === "user")?.content ?? "";
  if (/grading whether an answer to a question is correct/.test(user)) return "correctness";
  if (/every claim in an answer is supported/.test(user)) return "faithfulness";
  if (/against the team's policies/.test(user)) return "policy";
  if (/tone and style/.test(user)) return "tone";
  if (/addresses the question/.test(user)) return "relevance";
  return undefined;
}

export async function startJudgeServer(options: JudgeServerOptions = {}): Promise<JudgeServer> {
  const noise = options.noise ?? 0;
  const seed = options.seed ?? 1;
  const stats: JudgeServer["stats"] = { requests: 0, byJudge: {}, flipped: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) return send(404, { error: { message: `no route ${req.method} ${req.url}` } });
      let body: any;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return send(400, { error: { message: "request body is not JSON" } });
      }
      const name = judgeOf(body);
      if (!name) return send(400, { error: { message: "not one of ragtune's judge prompts" } });
      // The first user message is the rendered prompt (a retry appends the previous reply; the heuristic ignores it).
      const prompt: string = body.messages?.find((m: { role: string }) => m.role === "user")?.content ?? "";
      stats.requests++;
      stats.byJudge[name] = (stats.byJudge[name] ?? 0) + 1;
      let reply = heuristicVerdict(name, prompt);
      if (noise > 0 && unitHash(`${name}\n${prompt}`, seed) < noise) {
        reply = flipVerdict(name, reply);
        stats.flipped++;
      }
      const content = JSON.stringify(reply);
      send(200, {
        id: `heuristic-${stats.requests}`,
        object: "chat.completion",
        model: "heuristic-judge",
        choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
        usage: { prompt_tokens: Math.ceil(prompt.length / 4), completion_tokens: Math.ceil(content.length / 4), total_tokens: Math.ceil((prompt.length + content.length) / 4) },
      });
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    stats,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
