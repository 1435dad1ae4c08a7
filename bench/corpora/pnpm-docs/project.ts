/**
 * How the pnpm-docs benchmark project is built from ../shared/datasets/pnpm-docs: the repository's
 * own folders are copied as they are (a user points ragtune at the repo, not at a tidied copy), and
 * every docs version becomes a source with the label the project itself uses (versions.json names
 * "11.x" and "10.x"; the archived folders are "version-9.x" … "version-2.x"). Newest first, so the
 * declared order is also the version order. The blog is left out: no case is written on it.
 */
import type { CorpusProject } from "../project-types.ts";

const archived = ["9.x", "8.x", "7.x", "6.x", "5.x", "4.x", "3.x", "2.x"];

export const project: CorpusProject = {
  name: "pnpm-docs",
  dataset: "pnpm-docs",
  copy: ["docs", "versioned_docs", "versioned_docs_archived", "versions.json"],
  sources: [
    { include: "docs/**/*.{md,mdx}", version: "11.x" },
    { include: "versioned_docs/version-10.x/**/*.{md,mdx}", version: "10.x" },
    ...archived.map((v) => ({ include: `versioned_docs_archived/version-${v}/**/*.{md,mdx}`, version: v })),
  ],
  currentVersion: "11.x",
};
