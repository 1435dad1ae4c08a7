/** The seeded PRNG every benchmark uses, so runs see the same data (one implementation, in src/util). */
export { mulberry32 } from "../../src/util/rng.ts";
