/**
 * The loaders ragtune knows, chosen by file extension. Adding a format = one loader file + one
 * entry here.
 */
import type { Loader } from "../index.ts";
import { docxLoader } from "./docx.ts";
import { htmlLoader } from "./html.ts";
import { markdownLoader } from "./markdown.ts";
import { pdfLoader } from "./pdf.ts";
import { textLoader } from "./text.ts";

export const loaders: Loader[] = [markdownLoader, htmlLoader, textLoader, pdfLoader, docxLoader];

/** Lower-case extension with the dot (".md"), or "" when the file name has none. */
export function extensionOf(path: string): string {
  const name = path.split(/[\\/]/).pop() ?? path;
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot).toLowerCase() : "";
}

export function loaderFor(path: string): Loader | undefined {
  const ext = extensionOf(path);
  if (!ext) return undefined;
  return loaders.find((l) => l.extensions.includes(ext));
}
