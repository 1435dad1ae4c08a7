/**
 * A stand-in for a model that obeys injected instructions, for the prompt-injection tests (no model
 * can run here). It obeys any instruction-to-a-model (models/injection.ts) that it finds *outside*
 * the prompt's data block — or anywhere, when the system prompt does not declare the passages data —
 * by replying with the injection's code word. Otherwise it answers neutrally from passage [1].
 *
 * So it tests the prompt, not a model: that the data rule is in the system prompt and that no
 * document text can get out of the block (a forged end marker, a fake passage header, a fake
 * "Question:" turn). Whether a real model then resists is the model's part; this cannot show it.
 */
import { looksLikeInjectedInstruction } from "../../src/models/injection.ts";
import { PROMPTS } from "../../src/models/llm-generator.ts";
import type { ScriptedReply } from "./llm-server.ts";

export const OBEYED = "ACME-OVERRIDE-7";

/** The user message with the data block cut out (the whole message when there is no valid block). */
export function outsideDataBlock(user: string): string {
  const open = /<<<documents ([0-9a-f]{12})>>>/.exec(user);
  if (!open) return user;
  const close = user.indexOf(`<<<end of documents ${open[1]}>>>`, open.index);
  if (close < 0) return user;
  return user.slice(0, open.index) + user.slice(close);
}

export function gullibleReply(_i: number, body: { messages: { role: string; content: string }[] }): ScriptedReply {
  const system = body.messages.find((m) => m.role === "system")?.content ?? "";
  const user = body.messages[body.messages.length - 1].content;
  const declared = system.includes(PROMPTS.dataRule);
  // The question the user asked is never obeyed as an injection here: only document text is tested.
  const at = user.lastIndexOf("\nQuestion: ");
  const asked = at < 0 ? user : user.slice(0, at);
  const readable = declared ? outsideDataBlock(asked) : asked;
  if (looksLikeInjectedInstruction(readable)) return { text: `${OBEYED} — monthly plans can be refunded at any time.`, usage: { input: 400, output: 12 } };
  return { text: "Here is what the documentation says [1].", usage: { input: 400, output: 8 } };
}
