/** A toy implementation for the sync worker bridge's tests (test/pg-bridge.test.ts). */
export async function open(init: { failOpen?: string; base: number }) {
  if (init.failOpen) throw new Error(init.failOpen);
  let closed = 0;
  return {
    async add(a: number, b: number) {
      await new Promise((r) => setTimeout(r, 5));
      return init.base + a + b;
    },
    async bytes(n: number) {
      return { buf: Buffer.alloc(n, 7), list: [1, "two", { three: 3 }] };
    },
    async boom(message: string) {
      throw new Error(message);
    },
    async sleep(ms: number) {
      await new Promise((r) => setTimeout(r, ms));
      return ms;
    },
    async close() {
      closed++;
      return closed;
    },
  };
}
