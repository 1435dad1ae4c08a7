/**
 * OpenAI Evals samples (JSONL) → ragtune suite. Each line: `input` — a string, or chat messages
 * (`[{role, content}]`, the last user message is the question) — and `ideal`, a string or a list
 * of acceptable answers (ragtune's `answer` passes when any matches). System messages and earlier
 * turns have no place in a suite case: they are listed, not dropped silently.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { extname, resolve } from "node:path";
import { ImportError, readJsonRows, slug, uniqueIds, type ImportNote, type ImportResult, type ImportedCase, type Importer } from "./index.ts";

interface Message {
  role: string;
  content: string;
}

function messages(file: string, line: number, v: unknown[]): Message[] {
  return v.map((m, i) => {
    const field = `input[${i}]`;
    if (typeof m !== "object" || m === null) throw new ImportError(file, line, field, "expected a message {role, content}");
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== "string") throw new ImportError(file, line, `${field}.role`, "expected a string (system, user, assistant)");
    if (typeof content !== "string") throw new ImportError(file, line, `${field}.content`, "expected a string");
    return { role, content };
  });
}

function read(file: string): ImportResult {
  const abs = resolve(file);
  if (!existsSync(abs) || !statSync(abs).isFile()) throw new ImportError(file, 0, undefined, "file not found");
  const ext = extname(abs).toLowerCase();
  if (ext !== ".jsonl" && ext !== ".ndjson") throw new ImportError(file, 0, undefined, `expected OpenAI Evals samples as .jsonl, got '${ext || "(none)"}'`);
  const rows = readJsonRows(file, readFileSync(abs, "utf8"));
  const notes: ImportNote[] = [];
  const cases: ImportedCase[] = [];
  const bases: string[] = [];
  let systemPrompts = 0;
  let firstSystem = 0;
  for (const { line, row } of rows) {
    if (!Object.hasOwn(row, "input")) throw new ImportError(file, line, "input", `missing; the sample's fields: ${Object.keys(row).join(", ") || "(none)"}`);
    let input: string | undefined;
    if (typeof row.input === "string") input = row.input;
    else if (Array.isArray(row.input)) {
      const msgs = messages(file, line, row.input);
      const users = msgs.filter((m) => m.role === "user");
      input = users.at(-1)?.content;
      if (input === undefined) throw new ImportError(file, line, "input", "no user message: the question is the last message with role 'user'");
      if (msgs.some((m) => m.role === "system")) {
        systemPrompts++;
        firstSystem ||= line;
      }
      if (msgs.filter((m) => m.role !== "system").length > 1) notes.push({ file, line, field: "input", message: `earlier turns not converted (${msgs.length} messages; only the last user message is the case's input)` });
    } else throw new ImportError(file, line, "input", "expected a string or a list of chat messages");
    if (input.trim() === "") throw new ImportError(file, line, "input", "the question is empty");

    if (!Object.hasOwn(row, "ideal")) throw new ImportError(file, line, "ideal", "missing: a sample needs the ideal answer (a string or a list of strings)");
    const ideal = typeof row.ideal === "string" ? [row.ideal] : Array.isArray(row.ideal) && row.ideal.every((x) => typeof x === "string") ? (row.ideal as string[]) : undefined;
    if (ideal === undefined) throw new ImportError(file, line, "ideal", "expected a string or a list of strings");
    const answers = ideal.filter((s) => s.trim() !== "");
    if (answers.length === 0) {
      notes.push({ file, line, field: "ideal", message: "sample not converted: the ideal answer is empty" });
      continue;
    }
    cases.push({ id: "", input, answer: answers, from: { file, line } });
    bases.push(slug(input));
  }
  uniqueIds(bases).forEach((id, i) => (cases[i].id = id));
  if (systemPrompts) {
    notes.push({ file, line: firstSystem, field: "input", message: `system message(s) not converted in ${systemPrompts} sample(s): a suite case has no prompt of its own (the variant's prompt applies)` });
  }
  return { format: "openai-evals", cases, notes };
}

export const openaiEvalsImporter: Importer = { format: "openai-evals", read };
