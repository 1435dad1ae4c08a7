/**
 * Argument parsers for command-line options: each checks one value and says what is allowed.
 * They throw commander's InvalidArgumentError, which commander reports as
 * `error: option '-k, --k <n>' argument '0' is invalid. <what is allowed>` (exit 2 in main.ts),
 * so every message names the option and the value.
 *
 * Checks that need the project (does this run, tag or version label exist?) live in checks.ts.
 */
import { InvalidArgumentError } from "commander";
import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { didYouMean } from "../util/errors.ts";
import { folderProblem } from "../config/paths.ts";

/** Commander reports it as `option '…' argument '…' is invalid. <message>`; exit code 2 (bad usage). */
export function invalid(message: string): InvalidArgumentError {
  return Object.assign(new InvalidArgumentError(message), { exitCode: 2 });
}

const fmt = (n: number) => (Number.isInteger(n) && Math.abs(n) >= 10_000 ? n.toLocaleString("en-US") : String(n));

/** An integer from `min` to `max`. */
export function intArg(min: number, max: number) {
  return (v: string): number => {
    const n = v.trim() === "" ? NaN : Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw invalid(`expected an integer from ${fmt(min)} to ${fmt(max)}.`);
    return n;
  };
}

/** An amount in US dollars (a leading '$' is allowed), from 0 to `max`. */
export function usdArg(max = 10_000_000) {
  return (v: string): number => {
    const s = v.trim().replace(/^\$/, "");
    const n = s === "" ? NaN : Number(s);
    if (!Number.isFinite(n) || n < 0 || n > max) throw invalid(`expected an amount in USD from 0 to ${fmt(max)}, e.g. 5 or $0.50.`);
    return n;
  };
}

/** "did you mean" for a name, as a sentence fragment (empty when nothing is close). */
export function hintFor(name: string, known: readonly string[]): string {
  const hint = didYouMean(name, known);
  return hint && hint !== name ? ` (did you mean '${hint}'?)` : "";
}

/** `unknown <noun> 'x' (did you mean 'y'?); expected one of: a, b, c.` */
function unknownName(noun: string, value: string, allowed: readonly string[]): InvalidArgumentError {
  return invalid(`unknown ${noun} '${value}'${hintFor(value, allowed)}; expected one of: ${allowed.join(", ")}.`);
}

/** One of `allowed`, with a did-you-mean hint; `noun` names what it is ("task", "trainer"). */
export function choiceArg(allowed: readonly string[], noun = "value") {
  return (v: string): string => {
    if (!allowed.includes(v)) throw unknownName(noun, v, allowed);
    return v;
  };
}

/** A repeatable option whose every value is one of `allowed`. */
export function choiceListArg(allowed: readonly string[], noun = "value") {
  const one = choiceArg(allowed, noun);
  return (v: string, previous?: string[]): string[] => [...(Array.isArray(previous) ? previous : []), one(v)];
}

const splitList = (v: string) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * A comma-separated list (the option may also be repeated: values accumulate). With `allowed`,
 * every item must be one of them; items may not repeat.
 */
export function listArg(allowed?: readonly string[], noun = "value") {
  return (v: string, previous?: string[]): string[] => {
    const items = splitList(v);
    if (items.length === 0) throw invalid(`expected a comma-separated list${allowed ? ` of: ${allowed.join(", ")}` : ""}.`);
    const all = [...(Array.isArray(previous) ? previous : []), ...items];
    if (allowed) {
      for (const item of items) if (!allowed.includes(item)) throw unknownName(noun, item, allowed);
    }
    const dup = all.find((x, i) => all.indexOf(x) !== i);
    if (dup !== undefined) throw invalid(`'${dup}' is listed twice.`);
    return all;
  };
}

/** A value that is not empty or blank; repeated flags accumulate when `repeatable`. */
export function textArg(what = "a value") {
  return (v: string): string => {
    if (v.trim() === "") throw invalid(`expected ${what}, got an empty string.`);
    return v;
  };
}

/** Variadic/repeatable text values (`--tag a b`, `--file x --file y`): each non-empty. */
export function textListArg(what = "a value") {
  const one = textArg(what);
  return (v: string, previous?: string[]): string[] => [...(Array.isArray(previous) ? previous : []), one(v)];
}

function kindOf(path: string): "file" | "folder" | "other" | "missing" {
  try {
    const s = statSync(path);
    return s.isFile() ? "file" : s.isDirectory() ? "folder" : "other";
  } catch {
    return "missing";
  }
}

/** A file that exists (relative to the current folder); returns the argument as given. */
export function existingFileArg(v: string): string {
  const abs = resolve(v);
  const kind = kindOf(abs);
  if (kind === "missing") throw invalid(`file not found: ${abs}.`);
  if (kind !== "file") throw invalid(`${abs} is ${kind === "folder" ? "a folder" : "not a regular file"}; expected a file.`);
  return v;
}

/** Repeatable form of existingFileArg. */
export function existingFilesArg(v: string, previous?: string[]): string[] {
  return [...(Array.isArray(previous) ? previous : []), existingFileArg(v)];
}

/** A folder that exists. */
export function existingFolderArg(v: string): string {
  const abs = resolve(v);
  const kind = kindOf(abs);
  if (kind === "missing") throw invalid(`folder not found: ${abs}.`);
  if (kind !== "folder") throw invalid(`${abs} is a file; expected a folder.`);
  return v;
}

/** A folder that exists or can be created (no file in the way). */
export function outFolderArg(v: string): string {
  if (v.trim() === "") throw invalid("expected a folder, got an empty string.");
  const problem = folderProblem(resolve(v));
  if (problem) throw invalid(`${problem}.`);
  return v;
}

/** A file to write: not a folder, and its folder exists or can be created. Whether an existing file may be replaced is the command's call. */
export function outFileArg(v: string): string {
  if (v.trim() === "") throw invalid("expected a file path, got an empty string.");
  const abs = resolve(v);
  const kind = kindOf(abs);
  if (kind === "folder") throw invalid(`${abs} is a folder; expected a file path.`);
  if (kind === "other") throw invalid(`${abs} is not a regular file.`);
  const problem = folderProblem(dirname(abs));
  if (problem) throw invalid(`${problem}.`);
  return v;
}
