/**
 * `TextClassifier`: the in-process "fine-tuning" that works offline — a linear model over sparse
 * word + character n-gram tf-idf features (features.ts), trained in seconds on a laptop CPU.
 *
 *   model        one-vs-rest L2-regularised squared-hinge SVMs (liblinear's dual coordinate descent
 *                with shrinking), optionally averaged with a multinomial logistic regression
 *   calibration  softmax over the decision values with one temperature fitted on validation (NLL)
 *   abstention   `abstainBelow`: predictions less confident than this are routed to a human
 *   artifact     `model.json` (format version, labels, settings, vocabulary) + `weights.bin`
 *                (Float32 little-endian: weights, biases, idf) — loads in milliseconds
 *
 * See docs/classifier.md for the design and the benchmark numbers.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mulberry32, shuffle } from "../../util/rng.ts";
import { DEFAULT_FEATURE_OPTIONS, Vectorizer, type FeatureOptions, type SparseMatrix, type SparseVector } from "./features.ts";
import { setOwn } from "../../util/own.ts";
import { appendDense, denseDims, toCsr } from "./dense.ts";

/** Everything the classifier can be told. Every default was chosen on held-out splits of training data. */
export interface ClassifierOptions extends FeatureOptions {
  /**
   * SVM regularisation: larger fits the training data harder. Default 1: best of {0.2, 0.5, 1, 2}
   * on a banking77 validation split (0.2 underfits by ~1 point; 2 is no better and trains slower).
   */
  c?: number;
  /**
   * Weight of the multinomial logistic-regression member of the ensemble (0 = SVM only, 1 = LR
   * only). Default 0: on a banking77 validation split LR alone was 1 point below the SVM and the
   * 50/50 blend no better than the SVM, at 2–3× the training time.
   */
  lrWeight?: number;
  /** L2 strength of the logistic regression (per example). Default 1e-5. */
  lrL2?: number;
  /** Epochs of logistic-regression SGD (Adagrad); the best epoch on validation is kept. Default 12. */
  lrEpochs?: number;
  /**
   * Maximum passes of dual coordinate descent per class. Default 100: it usually converges
   * (projected-gradient gap ≤ `tolerance`) in 10–30; the cap only bounds pathological data.
   */
  maxEpochs?: number;
  /** Convergence tolerance of the SVM solver. Default 0.1 (liblinear's). */
  tolerance?: number;
  /**
   * Fraction of the training examples held out (stratified) to fit the confidence temperature
   * when no explicit `validation` set is given. Default 0.1.
   */
  validationFraction?: number;
  /**
   * After calibrating on the held-out fraction, retrain on all examples (keeping the temperature).
   * Default true: 10% more data is worth more than a model fitted on exactly what was calibrated.
   * Ignored when an explicit `validation` set is given (its metrics must describe the model).
   */
  refit?: boolean;
  /**
   * Confidence below which `predict` sets `abstained: true` (the caller routes to a human).
   * Default 0: never abstain; pick a value from the accuracy-vs-coverage curve on validation.
   */
  abstainBelow?: number;
  /** Labels (with calibrated probabilities) returned in `top`. Default 5. */
  topK?: number;
  /**
   * Sentence encoder whose embedding of each text is appended to the sparse features as a dense
   * block (dense.ts): `"none"` (default), `"use-lite"` (Universal Sentence Encoder lite, 512 dims,
   * offline) or `"hashing[:dims]"` (lexical, for tests). Opt-in from a dataset's trainer settings
   * (`finetune.datasets[].settings.encoder: use-lite`). With an encoder, `train` needs
   * `LabelledText.vector` on every example and `predict` the text's vector: `EncodedClassifier`
   * (encoded.ts) embeds them. Cost: ~9–20 ms a text to embed (and ~100 MB RSS for the model), against
   * ~0.1 ms for the sparse prediction — docs/classifier.md has the measurements.
   */
  encoder?: string;
  /**
   * Weight of the dense block relative to the sparse tf-idf vector (both unit length first).
   * Default 1; only used with an encoder.
   */
  encoderWeight?: number;
}

export const DEFAULT_CLASSIFIER_OPTIONS: Required<ClassifierOptions> = {
  ...DEFAULT_FEATURE_OPTIONS,
  c: 1,
  lrWeight: 0,
  lrL2: 1e-5,
  lrEpochs: 12,
  maxEpochs: 100,
  tolerance: 0.1,
  validationFraction: 0.1,
  refit: true,
  abstainBelow: 0,
  topK: 5,
  encoder: "none",
  encoderWeight: 1,
};

export interface LabelledText {
  text: string;
  label: string;
  /** The text's sentence embedding; required when the classifier has an `encoder`. */
  vector?: Float32Array;
}

export interface Prediction {
  label: string;
  /** Calibrated probability of `label` (0–1). */
  confidence: number;
  /** True when `confidence < abstainBelow`: route to a human. `label` is still the best guess. */
  abstained: boolean;
  /** Best labels first, with calibrated probabilities. */
  top: { label: string; score: number }[];
}

export interface LabelMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Evaluation {
  accuracy: number;
  /** Unweighted mean F1 over every label seen in the gold or predicted labels. */
  macroF1: number;
  perLabel: Record<string, LabelMetrics>;
}

export type ClassifierEvent =
  | { type: "log"; message: string }
  | { type: "metric"; name: string; value: number; step?: number };

export interface TrainClassifierOptions extends ClassifierOptions {
  /** Held-out examples for calibration (and the LR's best epoch); default: a stratified split of train. */
  validation?: LabelledText[];
  /** Seed for the split and the solvers' example order. Default 1. */
  seed?: number;
  onEvent?: (event: ClassifierEvent) => void;
}

/** The artifact's format: bump on any incompatible change to model.json or weights.bin. */
export const CLASSIFIER_FORMAT = "ragtune-text-classifier";
export const CLASSIFIER_FORMAT_VERSION = 1;

/** model.json — what `toJSON` returns without the weights. */
export interface ClassifierJson {
  format: typeof CLASSIFIER_FORMAT;
  version: number;
  labels: string[];
  options: Required<ClassifierOptions>;
  temperature: number;
  terms: string[];
  /** Length of the encoder's embedding block after the terms (absent or 0 without an encoder). */
  encoderDims?: number;
  /** Calibration numbers recorded with the model (validation accuracy etc.). */
  metrics: Record<string, number>;
}

interface Weights {
  /** [feature * numLabels + label]: one feature's weights for every label are contiguous. */
  w: Float32Array;
  bias: Float32Array;
}

export class TextClassifier {
  readonly labels: readonly string[];
  readonly options: Required<ClassifierOptions>;
  /** Softmax temperature fitted on validation. */
  readonly temperature: number;
  readonly metrics: Record<string, number>;
  /** Length of the sentence embedding `predict` needs (0: no encoder, text only). */
  readonly encoderDims: number;
  private readonly vectorizer: Vectorizer;
  private readonly weights: Weights;

  private constructor(
    labels: string[],
    options: Required<ClassifierOptions>,
    vectorizer: Vectorizer,
    weights: Weights,
    temperature: number,
    metrics: Record<string, number>,
    encoderDims = 0,
  ) {
    this.labels = labels;
    this.options = options;
    this.vectorizer = vectorizer;
    this.weights = weights;
    this.temperature = temperature;
    this.metrics = metrics;
    this.encoderDims = encoderDims;
  }

  /** The encoder whose embeddings `predict` needs, or undefined for a text-only model. */
  get encoder(): string | undefined {
    return this.encoderDims > 0 ? this.options.encoder : undefined;
  }

  /** Train on labelled texts. Deterministic for a given seed. */
  static train(train: LabelledText[], options: TrainClassifierOptions = {}): TextClassifier {
    const { validation, seed = 1, onEvent, ...rest } = options;
    const opts: Required<ClassifierOptions> = { ...DEFAULT_CLASSIFIER_OPTIONS, ...stripUndefined(rest) };
    if (train.length === 0) throw new Error("cannot train a classifier on zero examples");
    const labels = [...new Set(train.map((e) => e.label))].sort();
    if (labels.length < 2) throw new Error(`need at least 2 labels to train a classifier, got ${labels.length} (${labels.join(", ")})`);
    const log = (message: string) => onEvent?.({ type: "log", message });

    let fitSet = train;
    /** Position in `train` of each fitSet example (for warm-starting the refit). */
    let fitRows: number[] | undefined;
    let calSet = validation && validation.length > 0 ? validation : undefined;
    const explicitValidation = calSet !== undefined;
    if (!calSet) {
      const [a, b] = stratifiedSplit(
        train.map((e, i) => ({ label: e.label, i })),
        opts.validationFraction,
        seed,
      );
      if (b.length > 0 && a.length > 0) {
        fitSet = a.map((x) => train[x.i]);
        fitRows = a.map((x) => x.i);
        calSet = b.map((x) => train[x.i]);
      }
    }
    const labelIndex = new Map(labels.map((l, i) => [l, i]));
    const encoderDims = opts.encoder === "none" ? 0 : denseDims(train, opts.encoder, "training");
    if (encoderDims > 0 && validation?.length && denseDims(validation, opts.encoder, "validation") !== encoderDims)
      throw new Error(`classifier (encoder ${opts.encoder}): validation embeddings differ in length from the training ones`);

    const fitOnce = (examples: LabelledText[], cal: LabelledText[] | undefined, warmAlpha?: Float64Array) => {
      const vectorizer = Vectorizer.fit(
        examples.map((e) => e.text),
        opts,
      );
      const D = vectorizer.size + encoderDims;
      const featurise = (xs: LabelledText[]): SparseMatrix =>
        encoderDims > 0 ? toCsr(xs.map((e) => appendDense(vectorizer.transform(e.text), e.vector!, vectorizer.size, opts.encoderWeight))) : vectorizer.transformAll(xs.map((e) => e.text));
      const X = featurise(examples);
      const y = Int32Array.from(examples, (e) => labelIndex.get(e.label)!);
      log(`features: ${vectorizer.size} terms${encoderDims ? ` + ${encoderDims} ${opts.encoder} dims` : ""}, ${X.indices.length} non-zeros over ${X.rows} examples`);
      const calX = cal ? featurise(cal) : undefined;
      const calY = cal ? Int32Array.from(cal, (e) => labelIndex.get(e.label) ?? -1) : undefined;
      let weights: Weights | undefined;
      let alpha: Float64Array | undefined;
      if (opts.lrWeight < 1) {
        ({ alpha, ...weights } = trainOvrSvm(X, y, labels.length, D, opts, seed, warmAlpha));
      }
      if (opts.lrWeight > 0) {
        const lr = trainSoftmax(X, y, labels.length, D, opts, seed, calX, calY, onEvent);
        weights = weights ? blend(weights, lr, opts.lrWeight) : lr;
      }
      return { vectorizer, weights: weights!, calX, calY, alpha };
    };

    const first = fitOnce(fitSet, calSet);
    let temperature = 1;
    const metrics: Record<string, number> = {};
    if (first.calX && first.calY) {
      const scores = scoreAll(first.calX, first.weights, labels.length);
      temperature = fitTemperature(scores, first.calY, labels.length);
      const known = first.calY.filter((v) => v >= 0).length;
      let correct = 0;
      for (let i = 0; i < first.calY.length; i++) if (argmax(scores, i * labels.length, labels.length) === first.calY[i]) correct++;
      metrics.validationAccuracy = first.calY.length ? correct / first.calY.length : 0;
      metrics.validationExamples = first.calY.length;
      metrics.validationKnownLabels = known;
      onEvent?.({ type: "metric", name: "validationAccuracy", value: metrics.validationAccuracy });
      log(`temperature ${temperature.toFixed(4)}, validation accuracy ${(100 * metrics.validationAccuracy).toFixed(2)}%`);
    }
    if (!explicitValidation && calSet && opts.refit) {
      log(`refitting on all ${train.length} examples`);
      // Warm start: the dual variables of the first fit (zero for the held-out examples). The
      // optimum is the same as from scratch, reached in far fewer passes.
      let warm: Float64Array | undefined;
      if (first.alpha && fitRows) {
        const L = labels.length;
        const n0 = fitRows.length;
        warm = new Float64Array(L * train.length);
        for (let c = 0; c < L; c++) for (let j = 0; j < n0; j++) warm[c * train.length + fitRows[j]] = first.alpha[c * n0 + j];
      }
      const all = fitOnce(train, undefined, warm);
      return new TextClassifier(labels, opts, all.vectorizer, all.weights, temperature, metrics, encoderDims);
    }
    return new TextClassifier(labels, opts, first.vectorizer, first.weights, temperature, metrics, encoderDims);
  }

  /** Raw decision values (one per label) of a text; `vector` (its embedding) is required with an encoder. */
  scores(text: string, vector?: Float32Array): Float64Array {
    let x = this.vectorizer.transform(text);
    if (this.encoderDims > 0) {
      if (!vector) throw new Error(`this classifier uses the ${this.options.encoder} encoder: pass the text's embedding (EncodedClassifier in classifier/encoded.ts does)`);
      if (vector.length !== this.encoderDims) throw new Error(`this classifier expects a ${this.encoderDims}-dimensional ${this.options.encoder} embedding, got ${vector.length}`);
      x = appendDense(x, vector, this.vectorizer.size, this.options.encoderWeight);
    }
    return scoreOne(x, this.weights, this.labels.length);
  }

  /** Best label of a text; `vector` (its embedding) is required when the model has an encoder. */
  predict(text: string, vector?: Float32Array): Prediction {
    const s = this.scores(text, vector);
    const probs = softmax(s, 0, s.length, this.temperature);
    const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
    const best = order[0];
    const confidence = probs[best];
    return {
      label: this.labels[best],
      confidence,
      abstained: confidence < this.options.abstainBelow,
      top: order.slice(0, Math.max(1, this.options.topK)).map((i) => ({ label: this.labels[i], score: probs[i] })),
    };
  }

  /** A copy that abstains below a different threshold (same weights). */
  withAbstainBelow(threshold: number): TextClassifier {
    return new TextClassifier([...this.labels], { ...this.options, abstainBelow: threshold }, this.vectorizer, this.weights, this.temperature, this.metrics, this.encoderDims);
  }

  evaluate(examples: LabelledText[]): Evaluation {
    return classificationMetrics(
      examples.map((e) => e.label),
      examples.map((e) => this.predict(e.text, e.vector).label),
    );
  }

  /** model.json content plus the binary arrays (what `save` writes). */
  toJSON(): ClassifierJson & { weights: number[]; bias: number[]; idf: number[] } {
    return { ...this.header(), weights: Array.from(this.weights.w), bias: Array.from(this.weights.bias), idf: Array.from(this.vectorizer.idf) };
  }

  static fromJSON(json: ClassifierJson & { weights: number[]; bias: number[]; idf: number[] }): TextClassifier {
    checkHeader(json, "JSON");
    return TextClassifier.fromParts(json, Float32Array.from(json.weights), Float32Array.from(json.bias), Float32Array.from(json.idf));
  }

  /** Write `model.json` + `weights.bin` into dir (created if missing); each file is written atomically. */
  save(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const w = this.weights.w;
    const b = this.weights.bias;
    const idf = this.vectorizer.idf;
    const bin = new Float32Array(w.length + b.length + idf.length);
    bin.set(w, 0);
    bin.set(b, w.length);
    bin.set(idf, w.length + b.length);
    const bytes = Buffer.from(bin.buffer, bin.byteOffset, bin.byteLength);
    if (!LITTLE_ENDIAN) bytes.swap32();
    atomicWrite(join(dir, WEIGHTS_FILE), bytes);
    atomicWrite(join(dir, MODEL_FILE), JSON.stringify({ ...this.header(), binary: { file: WEIGHTS_FILE, dtype: "float32le", layout: ["weights[feature*labels+label] (features = terms, then encoderDims)", "bias[labels]", "idf[terms]"] } }));
  }

  static load(dir: string): TextClassifier {
    const path = join(dir, MODEL_FILE);
    let json: ClassifierJson;
    try {
      json = JSON.parse(readFileSync(path, "utf8")) as ClassifierJson;
    } catch (err) {
      throw new Error(`cannot read classifier ${path}: ${(err as Error).message}`);
    }
    checkHeader(json, path);
    const bytes = readFileSync(join(dir, WEIGHTS_FILE));
    if (!LITTLE_ENDIAN) bytes.swap32();
    const L = json.labels.length;
    const T = json.terms.length;
    const D = T + (json.encoderDims ?? 0);
    const expected = (D * L + L + T) * 4;
    if (bytes.byteLength !== expected) throw new Error(`${join(dir, WEIGHTS_FILE)}: ${bytes.byteLength} bytes, expected ${expected} for ${D} features × ${L} labels`);
    // Large reads get their own aligned ArrayBuffer: view it without copying; copy otherwise.
    const all =
      bytes.byteOffset % 4 === 0
        ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
        : new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    return TextClassifier.fromParts(json, all.subarray(0, D * L), all.subarray(D * L, D * L + L), all.subarray(D * L + L, D * L + L + T));
  }

  private static fromParts(json: ClassifierJson, w: Float32Array, bias: Float32Array, idf: Float32Array): TextClassifier {
    const opts = { ...DEFAULT_CLASSIFIER_OPTIONS, ...json.options };
    const vectorizer = Vectorizer.fromParts(
      {
        wordNgrams: opts.wordNgrams,
        charNgrams: opts.charNgrams,
        minDf: opts.minDf,
        sublinearTf: opts.sublinearTf,
        charWeight: opts.charWeight,
        skipBigrams: opts.skipBigrams,
        charAcrossWords: opts.charAcrossWords,
      },
      json.terms,
      idf,
    );
    return new TextClassifier([...json.labels], opts, vectorizer, { w, bias }, json.temperature, json.metrics ?? {}, json.encoderDims ?? 0);
  }

  private header(): ClassifierJson {
    return {
      format: CLASSIFIER_FORMAT,
      version: CLASSIFIER_FORMAT_VERSION,
      labels: [...this.labels],
      options: this.options,
      temperature: this.temperature,
      metrics: this.metrics,
      terms: this.vectorizer.terms,
      ...(this.encoderDims > 0 ? { encoderDims: this.encoderDims } : {}),
    };
  }
}

const MODEL_FILE = "model.json";
const WEIGHTS_FILE = "weights.bin";
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function checkHeader(json: Partial<ClassifierJson>, where: string): void {
  if (json.format !== CLASSIFIER_FORMAT) throw new Error(`${where}: not a ragtune text classifier (format ${JSON.stringify(json.format)})`);
  if (json.version !== CLASSIFIER_FORMAT_VERSION)
    throw new Error(`${where}: classifier format version ${json.version}, this ragtune reads version ${CLASSIFIER_FORMAT_VERSION}; retrain the model`);
}

function atomicWrite(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/** Accuracy, macro-F1 and per-label precision/recall/F1 of predicted vs gold labels. */
export function classificationMetrics(gold: readonly string[], predicted: readonly string[]): Evaluation {
  if (gold.length !== predicted.length) throw new Error(`gold and predicted differ in length: ${gold.length} vs ${predicted.length}`);
  const labels = [...new Set([...gold, ...predicted])].sort();
  const tp = new Map<string, number>();
  const fp = new Map<string, number>();
  const fn = new Map<string, number>();
  const support = new Map<string, number>();
  let correct = 0;
  for (let i = 0; i < gold.length; i++) {
    const g = gold[i];
    const p = predicted[i];
    support.set(g, (support.get(g) ?? 0) + 1);
    if (g === p) {
      correct++;
      tp.set(g, (tp.get(g) ?? 0) + 1);
    } else {
      fp.set(p, (fp.get(p) ?? 0) + 1);
      fn.set(g, (fn.get(g) ?? 0) + 1);
    }
  }
  const perLabel: Record<string, LabelMetrics> = {};
  let f1Sum = 0;
  for (const l of labels) {
    const t = tp.get(l) ?? 0;
    const precision = t + (fp.get(l) ?? 0) === 0 ? 0 : t / (t + (fp.get(l) ?? 0));
    const recall = t + (fn.get(l) ?? 0) === 0 ? 0 : t / (t + (fn.get(l) ?? 0));
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    setOwn(perLabel, l, { precision, recall, f1, support: support.get(l) ?? 0 });
    f1Sum += f1;
  }
  return { accuracy: gold.length ? correct / gold.length : 0, macroF1: labels.length ? f1Sum / labels.length : 0, perLabel };
}

// ---------------------------------------------------------------------------------------------
// Splitting, scoring, calibration
// ---------------------------------------------------------------------------------------------

/** Stratified split: about `fraction` of each label (at least one when a label has ≥ 2) goes to the second part. */
export function stratifiedSplit<T extends { label: string }>(items: readonly T[], fraction: number, seed: number): [T[], T[]] {
  const rand = mulberry32(seed);
  const byLabel = new Map<string, number[]>();
  items.forEach((e, i) => {
    const list = byLabel.get(e.label);
    if (list) list.push(i);
    else byLabel.set(e.label, [i]);
  });
  const held = new Set<number>();
  for (const label of [...byLabel.keys()].sort()) {
    const idx = byLabel.get(label)!;
    shuffle(idx, rand);
    const k = idx.length < 2 || fraction <= 0 ? 0 : Math.max(1, Math.round(idx.length * fraction));
    for (let j = 0; j < k; j++) held.add(idx[j]);
  }
  const a: T[] = [];
  const b: T[] = [];
  items.forEach((e, i) => (held.has(i) ? b : a).push(e));
  return [a, b];
}

function scoreOne(x: SparseVector, weights: Weights, L: number): Float64Array {
  const s = new Float64Array(L);
  for (let c = 0; c < L; c++) s[c] = weights.bias[c];
  const w = weights.w;
  for (let k = 0; k < x.indices.length; k++) {
    const base = x.indices[k] * L;
    const v = x.values[k];
    for (let c = 0; c < L; c++) s[c] += v * w[base + c];
  }
  return s;
}

function scoreAll(X: SparseMatrix, weights: Weights, L: number): Float64Array {
  const out = new Float64Array(X.rows * L);
  const w = weights.w;
  for (let i = 0; i < X.rows; i++) {
    const o = i * L;
    for (let c = 0; c < L; c++) out[o + c] = weights.bias[c];
    for (let k = X.offsets[i]; k < X.offsets[i + 1]; k++) {
      const base = X.indices[k] * L;
      const v = X.values[k];
      for (let c = 0; c < L; c++) out[o + c] += v * w[base + c];
    }
  }
  return out;
}

function argmax(a: ArrayLike<number>, off: number, n: number): number {
  let best = 0;
  for (let c = 1; c < n; c++) if (a[off + c] > a[off + best]) best = c;
  return best;
}

function softmax(s: ArrayLike<number>, off: number, n: number, temperature: number): Float64Array {
  const p = new Float64Array(n);
  let max = -Infinity;
  for (let c = 0; c < n; c++) max = Math.max(max, s[off + c]);
  let sum = 0;
  for (let c = 0; c < n; c++) {
    p[c] = Math.exp((s[off + c] - max) / temperature);
    sum += p[c];
  }
  for (let c = 0; c < n; c++) p[c] /= sum;
  return p;
}

/**
 * Cross-entropy of softmax(scores / T) against lightly smoothed gold labels ((1 - ε) on the gold
 * label, ε spread evenly), unknown labels (-1) skipped. ε = min(0.05, 1 / n): negligible on a real
 * validation set, but keeps T finite when a small one is classified perfectly (plain NLL would
 * then push T → 0 and make every prediction, even of gibberish, look certain).
 */
function smoothedNll(scores: Float64Array, y: Int32Array, L: number, T: number, eps: number): number {
  let total = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] < 0) continue;
    const o = i * L;
    let max = -Infinity;
    let mean = 0;
    for (let c = 0; c < L; c++) {
      max = Math.max(max, scores[o + c]);
      mean += scores[o + c] / L;
    }
    let sum = 0;
    for (let c = 0; c < L; c++) sum += Math.exp((scores[o + c] - max) / T);
    total += Math.log(sum) - ((1 - eps) * (scores[o + y[i]] - max) + eps * (mean - max)) / T;
  }
  return total;
}

/** Temperature minimising the smoothed validation NLL: golden-section search over ln T ∈ [-7, 4]. */
export function fitTemperature(scores: Float64Array, y: Int32Array, L: number): number {
  const n = y.filter((v) => v >= 0).length;
  if (n === 0) return 1;
  const eps = Math.min(0.05, 1 / n);
  const f = (lnT: number) => smoothedNll(scores, y, L, Math.exp(lnT), eps);
  const phi = (Math.sqrt(5) - 1) / 2;
  let a = -7;
  let b = 4;
  let c = b - phi * (b - a);
  let d = a + phi * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let it = 0; it < 60 && b - a > 1e-4; it++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - phi * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + phi * (b - a);
      fd = f(d);
    }
  }
  return Math.exp((a + b) / 2);
}

// ---------------------------------------------------------------------------------------------
// Solvers
// ---------------------------------------------------------------------------------------------

/**
 * One-vs-rest L2-regularised squared-hinge SVMs by dual coordinate descent with shrinking
 * (Hsieh et al. 2008, liblinear's L2R_L2LOSS_SVC_DUAL). A bias feature of value 1 is appended.
 */
function trainOvrSvm(
  X: SparseMatrix,
  y: Int32Array,
  L: number,
  D: number,
  opts: Required<ClassifierOptions>,
  seed: number,
  warmAlpha?: Float64Array,
): Weights & { alpha: Float64Array } {
  const n = X.rows;
  const { offsets, indices, values } = X;
  const diag = 1 / (2 * opts.c);
  const qd = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 1; // the bias feature
    for (let k = offsets[i]; k < offsets[i + 1]; k++) s += values[k] * values[k];
    qd[i] = s + diag;
  }
  const W = new Float32Array(D * L);
  const bias = new Float32Array(L);
  const w = new Float64Array(D);
  /** Dual variables, [label * n + example]; returned for warm starts. */
  const alphas = warmAlpha ? Float64Array.from(warmAlpha) : new Float64Array(L * n);
  const index = new Int32Array(n);
  const rand = mulberry32(seed);
  for (let cls = 0; cls < L; cls++) {
    const alpha = alphas.subarray(cls * n, (cls + 1) * n);
    w.fill(0);
    let b = 0;
    for (let i = 0; i < n; i++) {
      if (alpha[i] === 0) continue;
      const d = alpha[i] * (y[i] === cls ? 1 : -1);
      for (let k = offsets[i]; k < offsets[i + 1]; k++) w[indices[k]] += d * values[k];
      b += d;
    }
    for (let i = 0; i < n; i++) index[i] = i;
    let active = n;
    let pgMaxOld = Infinity;
    let pgMinOld = -Infinity;
    for (let epoch = 0; epoch < opts.maxEpochs; epoch++) {
      let pgMax = -Infinity;
      let pgMin = Infinity;
      shuffle(index, rand, active);
      let s = 0;
      while (s < active) {
        const i = index[s];
        const yi = y[i] === cls ? 1 : -1;
        let dot = b;
        const start = offsets[i];
        const end = offsets[i + 1];
        for (let k = start; k < end; k++) dot += w[indices[k]] * values[k];
        const G = yi * dot - 1 + alpha[i] * diag;
        let pg = 0;
        if (alpha[i] === 0) {
          if (G > pgMaxOld) {
            active--;
            index[s] = index[active];
            index[active] = i;
            continue;
          }
          if (G < 0) pg = G;
        } else pg = G;
        if (pg > pgMax) pgMax = pg;
        if (pg < pgMin) pgMin = pg;
        if (Math.abs(pg) > 1e-12) {
          const old = alpha[i];
          const next = Math.max(old - G / qd[i], 0);
          alpha[i] = next;
          const delta = (next - old) * yi;
          for (let k = start; k < end; k++) w[indices[k]] += delta * values[k];
          b += delta;
        }
        s++;
      }
      if (pgMax - pgMin <= opts.tolerance) {
        if (active === n) break;
        active = n;
        pgMaxOld = Infinity;
        pgMinOld = -Infinity;
        continue;
      }
      pgMaxOld = pgMax <= 0 ? Infinity : pgMax;
      pgMinOld = pgMin >= 0 ? -Infinity : pgMin;
    }
    void pgMinOld;
    for (let f = 0; f < D; f++) W[f * L + cls] = w[f];
    bias[cls] = b;
  }
  return { w: W, bias, alpha: alphas };
}

/**
 * Multinomial logistic regression by SGD with Adagrad step sizes and lazy L2 on the touched
 * features; keeps the epoch with the best validation accuracy (early stopping) when one is given.
 */
function trainSoftmax(
  X: SparseMatrix,
  y: Int32Array,
  L: number,
  D: number,
  opts: Required<ClassifierOptions>,
  seed: number,
  valX: SparseMatrix | undefined,
  valY: Int32Array | undefined,
  onEvent: TrainClassifierOptions["onEvent"],
): Weights {
  const n = X.rows;
  const { offsets, indices, values } = X;
  const W = new Float32Array(D * L);
  const G2 = new Float32Array(D * L);
  const bias = new Float32Array(L);
  const gb = new Float32Array(L);
  const lr = 0.5;
  const eps = 1e-8;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rand = mulberry32(seed ^ 0x5bd1e995);
  const p = new Float64Array(L);
  let best: Weights | undefined;
  let bestAcc = -1;
  for (let epoch = 0; epoch < opts.lrEpochs; epoch++) {
    shuffle(order, rand);
    for (let s = 0; s < n; s++) {
      const i = order[s];
      const start = offsets[i];
      const end = offsets[i + 1];
      for (let c = 0; c < L; c++) p[c] = bias[c];
      for (let k = start; k < end; k++) {
        const base = indices[k] * L;
        const v = values[k];
        for (let c = 0; c < L; c++) p[c] += v * W[base + c];
      }
      let max = -Infinity;
      for (let c = 0; c < L; c++) if (p[c] > max) max = p[c];
      let sum = 0;
      for (let c = 0; c < L; c++) {
        p[c] = Math.exp(p[c] - max);
        sum += p[c];
      }
      for (let c = 0; c < L; c++) p[c] = p[c] / sum - (c === y[i] ? 1 : 0);
      for (let c = 0; c < L; c++) {
        gb[c] += p[c] * p[c];
        bias[c] -= (lr * p[c]) / Math.sqrt(gb[c] + eps);
      }
      for (let k = start; k < end; k++) {
        const base = indices[k] * L;
        const v = values[k];
        for (let c = 0; c < L; c++) {
          const j = base + c;
          const g = p[c] * v + opts.lrL2 * W[j];
          G2[j] += g * g;
          W[j] -= (lr * g) / Math.sqrt(G2[j] + eps);
        }
      }
    }
    if (valX && valY) {
      const scores = scoreAll(valX, { w: W, bias }, L);
      let correct = 0;
      for (let i = 0; i < valY.length; i++) if (argmax(scores, i * L, L) === valY[i]) correct++;
      const acc = correct / Math.max(1, valY.length);
      onEvent?.({ type: "metric", name: "lrValidationAccuracy", value: acc, step: epoch + 1 });
      if (acc > bestAcc) {
        bestAcc = acc;
        best = { w: W.slice(), bias: bias.slice() };
      }
    }
  }
  return best ?? { w: W, bias };
}

/** (1 - t)·a + t·b, after scaling each model's weights so their decision values have unit RMS. */
function blend(a: Weights, b: Weights, t: number): Weights {
  const rms = (x: Float32Array) => {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i] * x[i];
    return Math.sqrt(s / Math.max(1, x.length)) || 1;
  };
  const sa = (1 - t) / rms(a.w);
  const sb = t / rms(b.w);
  const w = new Float32Array(a.w.length);
  for (let i = 0; i < w.length; i++) w[i] = sa * a.w[i] + sb * b.w[i];
  const bias = new Float32Array(a.bias.length);
  for (let i = 0; i < bias.length; i++) bias[i] = sa * a.bias[i] + sb * b.bias[i];
  return { w, bias };
}
