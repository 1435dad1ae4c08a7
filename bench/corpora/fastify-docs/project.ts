/**
 * How the fastify-docs benchmark project is built from ../shared/datasets/fastify-docs: the two
 * copies of fastify's docs/ folder (v4 = branch 4.x, v5 = tag v5.12.1) are copied as they are,
 * including the svg/drawio files under resources/ that are not documentation (the markdown globs
 * leave them out, as a user's would). v5 is declared first: it is the current version.
 */
import type { CorpusProject } from "../project-types.ts";

export const project: CorpusProject = {
  name: "fastify-docs",
  dataset: "fastify-docs",
  copy: ["v4", "v5"],
  sources: [
    { include: "v5/**/*.md", version: "v5" },
    { include: "v4/**/*.md", version: "v4" },
  ],
  currentVersion: "v5",
};
