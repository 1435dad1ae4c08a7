/**
 * `offline:extractive`, the reader that needs no model. It lives in `extractive/`: reader.ts (the
 * Generator and how an answer is chosen), units.ts (markdown → quotable units with their own
 * section and lines), question.ts, answer-types.ts.
 */
export { ExtractiveReader, type ExtractiveReaderOptions } from "./extractive/reader.ts";
export { analyzeQuestion, type QuestionAnalysis } from "./extractive/question.ts";
export { cleanMarkdown, renderQuote, splitSentences, splitUnits, type Unit } from "./extractive/units.ts";
export type { AnswerType } from "./extractive/answer-types.ts";
