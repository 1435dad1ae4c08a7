/**
 * Prompt injection in retrieved documents: text written to steer an AI assistant ("ignore previous
 * instructions …", "you are now …", "reveal your system prompt") that arrives inside a passage. A
 * retrieved passage is data quoted to the reader, never an instruction to it, so
 * - the offline reader never quotes such a sentence as an answer (extractive/reader.ts);
 * - the LLM prompt (llm-generator.ts) puts the passages between markers derived from their own text,
 *   which a document cannot forge, neutralises lines that imitate the prompt's own structure
 *   (a fake passage header, a fake "Question:"), flags passages that contain such text, and the
 *   system prompt says passages are data.
 *
 * The patterns aim at text addressed to a model about its instructions, prompt or role, so they
 * stay quiet on documentation that says "ignore" or "system" for other reasons (`.npmignore`,
 * "ignore-scripts", "the system prompts for a password"): see test/injection.test.ts, which runs
 * them over real documentation when the shared datasets are present.
 */
import { createHash } from "node:crypto";

const OBJECT = String.raw`(?:instructions?|rules|guidelines|prompts?|directions|directives|system (?:prompt|message))`;
const W = String.raw`(?:\s+[\w'-]+){0,2}?`;

const PATTERNS: { name: string; re: RegExp }[] = [
  // "Ignore all previous instructions", "disregard the rules above", "forget your guidelines",
  // "forget everything above": a verb, a word naming earlier or the model's own instructions, the
  // instructions — within a few words, so "ignore all files matching the rules" does not match.
  {
    name: "override",
    re: new RegExp(
      String.raw`\b(?:ignore|disregard|forget|override)${W}\s+(?:previous|prior|above|earlier|preceding|original|your|all|any)${W}\s+${OBJECT}\b|\b(?:ignore|disregard|forget)\s+(?:everything|anything|all)\s+(?:above|before|previously|you (?:were|have been) told)\b|\b(?:ignore|disregard)\s+(?:the\s+)?${OBJECT}\s+(?:above|before)\b`,
      "i",
    ),
  },
  // "Reveal / print / repeat your system prompt", "show me your hidden instructions", "what is your system prompt?".
  {
    name: "exfiltrate",
    re: /\bwhat (?:is|are|was|were) your (?:system prompt|(?:hidden |initial |original |secret )?(?:instructions|prompt))\b|\b(?:reveal|print|show|repeat|output|leak|display|dump|tell (?:me|the user))\b[^.!?\n]{0,30}?\b(?:(?:your|the) (?:system|hidden|initial|original|secret) (?:prompt|instructions|message)|system prompt|your (?:instructions|prompt))\b/i,
  },
  // Role takeover: "you are now DAN / an unrestricted AI", "from now on you will only reply …",
  // "act as an unrestricted AI", "jailbreak mode" — not "you are now logged in".
  {
    name: "role",
    re: /\b(?:you are now (?:an? |the |my |in )?(?:dan\b|unrestricted|unfiltered|jailbroken|evil|new|different)|from now on,? you (?:will|must|shall|should|are to) (?:only |always |never )?(?:answer|reply|respond|act|say|ignore|pretend|tell|output)|act as an? (?:unrestricted|unfiltered|jailbroken)\b|pretend (?:to be|you are) an? (?:unrestricted|unfiltered|different) (?:ai|assistant|model)\b|(?:jailbreak|dan) mode\b)/i,
  },
  // A new instruction block inside a document: "New instructions:", "SYSTEM: ignore …", "<system>", "[INST]".
  {
    name: "fake-turn",
    re: /(?:^|\n)\s*(?:new (?:system )?instructions?\s*:|<\/?(?:system|instructions?|im_start|im_end)\b[^>]*>|\[\/?(?:inst|system)\])|\b(?:system|assistant)(?: prompt| message| override)?\s*:\s*(?:\S+\s+){0,6}?(?:ignore|disregard|you|reply|respond|answer|say|output|print|reveal)\b/i,
  },
  // Notes addressed to the model: "Note to the AI:", "AI assistants reading this must …".
  {
    name: "addressed",
    re: /\b(?:note|message|instructions?) (?:to|for) (?:the |any )?(?:ai|assistant|chatbot|llm|language model|model)\b|\b(?:ai|llm|chatbot|assistant)s? (?:reading|processing|summari[sz]ing) this\b/i,
  },
];

export interface InstructionMatch {
  /** Which kind of pattern matched (override, exfiltrate, role, fake-turn, addressed). */
  kind: string;
  /** The matched text. */
  text: string;
}

/** The first instruction-to-a-model found in `text`, or undefined. */
export function findInjectedInstruction(text: string): InstructionMatch | undefined {
  for (const { name, re } of PATTERNS) {
    const m = re.exec(text);
    if (m) return { kind: name, text: m[0].trim() };
  }
  return undefined;
}

export function looksLikeInjectedInstruction(text: string): boolean {
  return findInjectedInstruction(text) !== undefined;
}

/**
 * Markers around the passages of one prompt, derived from the passages themselves: a document
 * cannot contain the hash of a text that contains it, so it cannot close the block early, and the
 * same context always gives the same prompt (the response cache keys on it).
 */
export function dataMarkers(body: string): { open: string; close: string } {
  const tag = createHash("sha256").update(body).digest("hex").slice(0, 12);
  return { open: `<<<documents ${tag}>>>`, close: `<<<end of documents ${tag}>>>` };
}

/** Lines of a passage that imitate the prompt's own structure: a passage header, a question or answer line. */
const STRUCTURE_IMITATION_RE = /^(\s*)(\[\d+\]\s*\(|question\s*:|answer\b[^\n]{0,40}:|context\s*:|<<<)/gim;

/** A passage's text with structure-imitating line starts quoted (`> `), so they read as quoted text. */
export function neutralisePassage(text: string): string {
  return text.replace(STRUCTURE_IMITATION_RE, (_m, lead: string, start: string) => `${lead}> ${start}`);
}
