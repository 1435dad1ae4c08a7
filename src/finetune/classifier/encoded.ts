/**
 * The classifier with a sentence encoder (ClassifierOptions.encoder): the async layer that embeds
 * texts before the synchronous model sees them. A text-only model passes through unchanged, so
 * callers can use `EncodedClassifier` for every classifier artifact.
 *
 * Only offline, local encoders are accepted (`use-lite`, `hashing[:dims]`): the model must be able
 * to predict wherever it is served, with the same encoder it was trained with, and without a key.
 */
import { createEmbedder } from "../../models/embedders/index.ts";
import type { Embedder } from "../../models/index.ts";
import { TextClassifier, type LabelledText, type Prediction, type TrainClassifierOptions } from "./model.ts";

/** Encoder ids the classifier accepts (besides "none"). */
export const CLASSIFIER_ENCODERS = ["use-lite", "hashing[:dims]"] as const;

/** Checks an encoder id; the message lists the accepted ones. */
export function checkEncoderId(id: string): void {
  if (id === "none" || id === "use-lite" || /^hashing(:\d+)?$/.test(id)) return;
  throw new Error(`classifier: unknown encoder '${id}' (accepted: none, ${CLASSIFIER_ENCODERS.join(", ")}; offline encoders only, so the model predicts wherever it is served)`);
}

/** The Embedder for an encoder id (undefined for "none"). */
export function createEncoder(id: string): Embedder | undefined {
  checkEncoderId(id);
  // Offline kinds never read the models section of the config (that is for provider-backed ids).
  return createEmbedder(id, {} as never);
}

/** The examples with their `vector` filled in by `embedder` (texts embedded in batches). */
export async function embedLabelled(embedder: Embedder, examples: readonly LabelledText[]): Promise<LabelledText[]> {
  const vectors = await embedder.embed(
    examples.map((e) => e.text),
    "document",
  );
  return examples.map((e, i) => ({ ...e, vector: vectors[i] }));
}

export class EncodedClassifier {
  constructor(
    readonly model: TextClassifier,
    /** The model's encoder (undefined for a text-only model). */
    readonly embedder: Embedder | undefined,
  ) {
    if (model.encoder && !embedder) throw new Error(`this classifier needs its ${model.encoder} encoder`);
  }

  /** Train with `options.encoder` (embedding the examples first) or without one (text only). */
  static async train(train: LabelledText[], options: TrainClassifierOptions = {}, embedder?: Embedder): Promise<EncodedClassifier> {
    const encoder = options.encoder ?? "none";
    const e = encoder === "none" ? undefined : (embedder ?? createEncoder(encoder));
    const withVectors = e ? await embedLabelled(e, train) : train;
    const validation = e && options.validation?.length ? await embedLabelled(e, options.validation) : options.validation;
    return new EncodedClassifier(TextClassifier.train(withVectors, { ...options, validation }), e);
  }

  /** Load an artifact and, when it has an encoder, create that encoder (or use the one given). */
  static load(dir: string, embedder?: Embedder): EncodedClassifier {
    const model = TextClassifier.load(dir);
    return new EncodedClassifier(model, model.encoder ? (embedder ?? createEncoder(model.encoder)) : undefined);
  }

  async predict(text: string): Promise<Prediction> {
    if (!this.embedder || !this.model.encoder) return this.model.predict(text);
    const [vector] = await this.embedder.embed([text], "query");
    return this.model.predict(text, vector);
  }

  /** Many texts, embedded in one batch. */
  async predictMany(texts: string[]): Promise<Prediction[]> {
    if (!this.embedder || !this.model.encoder) return texts.map((t) => this.model.predict(t));
    const vectors = await this.embedder.embed(texts, "query");
    return texts.map((t, i) => this.model.predict(t, vectors[i]));
  }
}
