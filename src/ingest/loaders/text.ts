/**
 * Plain-text loader. Text files have no markup, so we recognise the two heading conventions
 * people actually type: an ALL-CAPS line standing alone between blank lines, and a line
 * underlined with ===== (level 1) or ----- (level 2).
 */
import type { LoadedDocument, Loader } from "../index.ts";
import { baseTitle, buildSections, inputText, splitLines, type HeadingMark } from "./markdown.ts";

const UNDERLINE = /^\s*(=+|-+)\s*$/;

function isCapsHeading(line: string): boolean {
  if (line.length > 80 || /[.,;!?]$/.test(line)) return false;
  if (/\p{Ll}/u.test(line)) return false;
  return (line.match(/\p{Lu}/gu)?.length ?? 0) >= 2;
}

export function findTextHeadings(lines: string[]): HeadingMark[] {
  const marks: HeadingMark[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || (i > 0 && lines[i - 1].trim() !== "")) continue;
    const next = lines[i + 1];
    if (next !== undefined && UNDERLINE.test(next) && next.trim().length >= 3 && !UNDERLINE.test(line) && line.length <= 120) {
      marks.push({ line: i, span: 2, level: next.trim()[0] === "=" ? 1 : 2, title: line, raw: line });
      i++;
    } else if (isCapsHeading(line) && (next === undefined || next.trim() === "")) {
      marks.push({ line: i, span: 1, level: 1, title: line, raw: line });
    }
  }
  return marks;
}

export function loadText(text: string, path: string): LoadedDocument {
  const lines = splitLines(text);
  return { title: baseTitle(path), meta: {}, sections: buildSections(lines, 0, findTextHeadings(lines)) };
}

export const textLoader: Loader = {
  extensions: [".txt"],
  load: (input) => loadText(inputText(input), input.path),
};
