/** The description of a benchmark corpus project (one `project.ts` per corpus folder). */
export interface CorpusProject {
  /** Folder name under bench/corpora/ and the key in bench/results/corpora.json. */
  name: string;
  /** Folder under ../shared/datasets/ that holds the documents. */
  dataset: string;
  /** Files and folders of the dataset copied, layout unchanged, into the temporary project. */
  copy: string[];
  /** The `sources` written to ragtune.yaml (globs relative to the project root, version labels). */
  sources: { include: string; version: string; exclude?: string[] }[];
  /** Label of the current version: changed-fact gold sources point at its files. */
  currentVersion: string;
}
