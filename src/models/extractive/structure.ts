/**
 * How reference documentation is laid out, as the offline reader uses it: a section heading that
 * names the asked-for key, labelled value lines ("Default: `true`") under a described setting,
 * and copies of one section in several versions. See the notes in reader.ts.
 */
import { sectionKey } from "../../core/versions.ts";
import type { ContextChunk } from "../index.ts";
import type { QuestionAnalysis } from "./question.ts";
import type { Scored } from "./reader.ts";
import type { Unit } from "./units.ts";

/**
 * Reference docs name the thing in the heading and describe it underneath (`### --update-checksums`
 * "Refresh the locked tarball integrity values …"; `## ERR_PNPM_OUTDATED_LOCKFILE` "This error
 * happens when …"). When the question asks which key, flag, code or setting, and the answering
 * sentence sits under such a heading without naming it, the heading is the answer: it leads the
 * quote, as code. Undefined otherwise.
 */
export function headingAnswer(unit: Unit, question: QuestionAnalysis, input: string): string | undefined {
  if (!question.types.has("identifier") && !question.types.has("default")) return undefined;
  const heading = unit.headingPath[unit.headingPath.length - 1]?.trim();
  if (!heading || heading.length > 60 || !IDENTIFIER_HEADING_RE.test(heading)) return undefined;
  const key = sectionKey(heading);
  if (!key || sectionKey(unit.plain).includes(key) || sectionKey(input).includes(key)) return undefined;
  return `\`${heading}\``;
}

/** A heading that is a name in code: a flag, an error code, a dotted, snake, kebab or camelCase key. */
const IDENTIFIER_HEADING_RE = /^(?:--?[\w-]+(?:[ ,=][-\w<>\[\] ,|=]*)?|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[\w$]+(?:[.-][\w$]+)+(?:\(\))?|[a-z]+(?:[A-Z][a-z0-9]*)+(?:\(\))?|[a-z]+_[a-z0-9_]+)$/;

/**
 * Reference docs describe a setting in prose and state its values in labelled lines ("Default:
 * `120` (60 on Windows)", "Type: number"). When the best unit is the description — found by the
 * question's words — but the question asks for a default or a quantity it does not state, the
 * labelled line of the same section that does becomes the answer (the description follows it
 * as the second sentence when it adds words).
 */
export function answerFromSectionValueLine(scored: Scored[], question: QuestionAnalysis): void {
  const top = scored[0];
  if (!top || top.fit > 0) return;
  const wantsDefault = question.types.has("default");
  const wantsQuantity = question.types.has("quantity") || question.types.has("duration");
  if (!wantsDefault && !wantsQuantity) return;
  const section = (u: Unit) => `${u.chunk}\u0000${u.headingPath.join("\u0000")}`;
  const key = section(top.unit);
  const i = scored.findIndex(
    (s) =>
      s !== top &&
      section(s.unit) === key &&
      LABELLED_VALUE_RE.test(s.unit.plain) &&
      ((wantsDefault && s.unit.cues.defaultValue) || (!wantsDefault && wantsQuantity && s.unit.cues.number)),
  );
  if (i > 0) scored.unshift(...scored.splice(i, 1));
}

/** "Label: value" — a list item or line that states one setting's property. */
export const LABELLED_VALUE_RE = /^[\p{L}][\p{L}\p{N} _-]{0,30}:\s+\S/u;

/**
 * Per context chunk: whether it is of the preferred version — the versions the question names if
 * the context has them, else the newest present. All true when the context holds one version;
 * unlabelled chunks are always preferred.
 */
export function preferredVersionChunks(context: ContextChunk[], preferVersions?: readonly string[]): boolean[] {
  const ranks = new Set(context.map((c) => c.versionRank).filter((r): r is number => r !== undefined));
  if (ranks.size < 2) return context.map(() => true);
  const named = new Set((preferVersions ?? []).filter((v) => context.some((c) => c.version === v)));
  const newest = Math.min(...ranks);
  return context.map((c) => c.versionRank === undefined || (named.size > 0 ? named.has(c.version) : c.versionRank === newest));
}

/**
 * When versions disagree, the preferred version answers: if the best unit comes from another
 * version and the preferred version's copy of the same section is in the context, that copy's
 * best unit (covering some of the question) moves to the front. Sections are matched by their
 * last heading, case and punctuation ignored (`auto-install-peers` = `autoInstallPeers`).
 */
export function preferSectionOfPreferredVersion(scored: Scored[], preferredChunk: boolean[]): void {
  const top = scored[0];
  if (!top || preferredChunk[top.unit.chunk]) return;
  const key = sectionKey(top.unit.headingPath[top.unit.headingPath.length - 1] ?? "");
  if (!key) return;
  const i = scored.findIndex((s) => preferredChunk[s.unit.chunk] && s.coverage > 0 && sectionKey(s.unit.headingPath[s.unit.headingPath.length - 1] ?? "") === key);
  if (i > 0) scored.unshift(...scored.splice(i, 1));
}
