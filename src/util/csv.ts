/**
 * RFC 4180 CSV, shared by the labelled-data reader (finetune/dataset) and the importers (interop/).
 */
import { InputError } from "./errors.ts";

/** One CSV record with the 1-based line it starts on. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/**
 * Parse RFC 4180 CSV: comma-separated, fields optionally in double quotes, `""` inside quotes is
 * a quote, quoted fields may hold commas and newlines; CRLF or LF line ends; a leading BOM is
 * dropped; blank lines are skipped. Errors name `file:line`.
 */
export function parseCsv(text: string, file = "<csv>"): CsvRecord[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let recordLine = 1;
  let i = 0;
  let quotedField = false;
  const endField = () => {
    fields.push(field);
    field = "";
    quotedField = false;
  };
  const endRecord = () => {
    endField();
    // A blank line is one empty unquoted field: skip it.
    if (!(fields.length === 1 && fields[0] === "" && !lastWasQuoted)) records.push({ fields, line: recordLine });
    fields = [];
  };
  let lastWasQuoted = false;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"' && field === "" && !quotedField) {
      // Quoted field: read to the closing quote.
      const startLine = line;
      quotedField = true;
      lastWasQuoted = true;
      i++;
      for (;;) {
        if (i >= text.length) throw new InputError(`${file}:${startLine}: unterminated quoted field`);
        const c = text[i];
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === "\n") line++;
        field += c;
        i++;
      }
      const next = text[i];
      if (i < text.length && next !== "," && next !== "\n" && next !== "\r") {
        throw new InputError(`${file}:${line}: unexpected character '${next}' after a closing quote (a quote inside a quoted field is written "")`);
      }
      continue;
    }
    if (ch === ",") {
      endField();
      lastWasQuoted = false;
      i++;
      continue;
    }
    if (ch === "\r" || ch === "\n") {
      endRecord();
      lastWasQuoted = false;
      i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    if (ch === '"' && !quotedField) {
      throw new InputError(`${file}:${line}: stray quote inside an unquoted field (quote the whole field and write "" for a quote)`);
    }
    field += ch;
    lastWasQuoted = false;
    i++;
  }
  if (field !== "" || fields.length > 0 || quotedField) endRecord();
  return records;
}
