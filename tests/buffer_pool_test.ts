import assert from "node:assert/strict";
import { BufferPool } from "../io/buffer_pool.ts";

const options = { largeSize: 1024, maxLarge: 2, smallSize: 256, maxFree: 1 };

Deno.test("buffer pool: large buffers up to maxLarge lent out, small ones beyond", () => {
  const pool = new BufferPool(options);
  const [a, b, c] = [pool.acquire(), pool.acquire(), pool.acquire()];
  assert.deepEqual([a.length, b.length, c.length], [1024, 1024, 256]);
  assert.equal(pool.largeLent, 2);
  pool.release(a);
  assert.equal(pool.largeLent, 1);
  const d = pool.acquire();
  assert.equal(d, a, "a released large buffer is reused");
  pool.release(c);
  pool.release(b);
  pool.release(d);
  assert.equal(pool.largeLent, 0);
  assert.equal(pool.smallSize, 256);
});

Deno.test("buffer pool: keeps at most maxFree buffers of each size", () => {
  const pool = new BufferPool(options);
  const [a, b] = [pool.acquire(), pool.acquire()];
  pool.release(a);
  pool.release(b);
  const again = [pool.acquire(), pool.acquire()];
  assert.equal(again.filter((buffer) => buffer === a || buffer === b).length, 1);
});

Deno.test("buffer pool: refuses a small size that is not below the large one", () => {
  assert.throws(() => new BufferPool({ ...options, smallSize: 1024 }), RangeError);
});
