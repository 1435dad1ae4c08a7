/**
 * The index generation a process sees, without a round trip per read. Serving asks for the
 * generation several times per request (is my in-memory index current?); over the bridge each ask
 * is a blocking query (~0.2 ms and a CPU wake-up on both sides). Instead the host's worker keeps
 * one connection that LISTENs on the channel every commit notifies (store.ts `bumpGeneration`),
 * and writes the value into memory shared with the calling thread, which reads it with one atomic
 * load.
 *
 * Correctness rests on two rules. The slot is *valid* only while the listener is connected and
 * has read the generation after LISTEN (so no commit can fall between); when the connection drops
 * the slot is invalidated first and readers fall back to a query until it is back. And this
 * process's own commits set the slot before their call returns (read-your-writes). A commit by
 * another replica is seen when its notification arrives, microseconds to milliseconds later —
 * the same as a query a moment earlier would have; each reload still reads one consistent snapshot.
 */
import pg from "pg";
import { GENERATION_CHANNEL } from "./store.ts";

/** [0]: 1 when valid; [1]: the generation. */
export type GenerationCells = BigInt64Array;

export function newGenerationCells(): GenerationCells {
  return new BigInt64Array(new SharedArrayBuffer(16));
}

/** The reader's side (calling thread): the generation, or undefined when a query must answer. */
export function readGeneration(cells: GenerationCells): number | undefined {
  return Atomics.load(cells, 0) === 1n ? Number(Atomics.load(cells, 1)) : undefined;
}

/** The writer's side (the host worker). */
export class GenerationSlot {
  constructor(private readonly cells: GenerationCells) {}

  /** A commit (this process's or a notified one) moved the generation to `g`. Never moves it back while valid. */
  committed(g: number): void {
    if (Atomics.load(this.cells, 0) !== 1n) return;
    if (BigInt(g) > Atomics.load(this.cells, 1)) Atomics.store(this.cells, 1, BigInt(g));
  }

  /** The exact value read after LISTEN: valid from now on. */
  reset(g: number): void {
    Atomics.store(this.cells, 1, BigInt(g));
    Atomics.store(this.cells, 0, 1n);
  }

  invalidate(): void {
    Atomics.store(this.cells, 0, 0n);
  }
}

/**
 * Keep a LISTEN connection for the slot, reconnecting (with back-off up to 5 s) whenever it drops;
 * the slot is invalid while it is down. Returns a stop function.
 */
export function listenForGenerations(url: string, slot: GenerationSlot, connectTimeoutMs: number): () => Promise<void> {
  let stopped = false;
  let client: pg.Client | undefined;
  let delay = 100;
  let timer: NodeJS.Timeout | undefined;
  const retry = () => {
    slot.invalidate();
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
    timer.unref();
    delay = Math.min(delay * 2, 5_000);
  };
  const connect = async () => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, application_name: "ragtune-generation-listener" });
    client = c;
    c.on("error", () => {
      if (client === c) retry();
    });
    c.on("end", () => {
      if (client === c) retry();
    });
    // A notification can arrive before the read below resolves (it ignores an invalid slot): keep
    // the highest seen so the reset cannot go back past it.
    let seen = 0;
    c.on("notification", (n) => {
      if (n.channel !== GENERATION_CHANNEL || !n.payload) return;
      seen = Math.max(seen, Number(n.payload));
      slot.committed(Number(n.payload));
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${GENERATION_CHANNEL}`);
      // Read after LISTEN: a commit before this read is in it, one after it will be notified.
      const { rows } = await c.query<{ value: string }>("SELECT value FROM meta WHERE key = 'generation'");
      if (stopped || client !== c) return;
      if (rows.length) {
        slot.reset(Math.max(seen, Number(rows[0].value)));
        delay = 100;
      } else {
        // No index tables yet (a new database): ask again later.
        await c.end().catch(() => undefined);
      }
    } catch {
      if (client === c) retry();
    }
  };
  void connect();
  return async () => {
    stopped = true;
    slot.invalidate();
    if (timer) clearTimeout(timer);
    const c = client;
    client = undefined;
    await c?.end().catch(() => undefined);
  };
}
