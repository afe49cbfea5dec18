import assert from "node:assert/strict";
import { BufferPool } from "../io/buffer_pool.ts";

const options = { largeSize: 1024, maxLarge: 2, smallSize: 256, maxFreeSmall: 1 };

Deno.test("buffer pool: large buffers for large payloads up to maxLarge lent out, small beyond", () => {
  const pool = new BufferPool(options);
  const [a, b, c] = [pool.acquire(5000), pool.acquire(257), pool.acquire(5000)];
  assert.deepEqual([a.length, b.length, c.length], [1024, 1024, 256]);
  assert.equal(pool.largeLent, 2);
  pool.release(a);
  assert.equal(pool.largeLent, 1);
  const d = pool.acquire(5000);
  assert.equal(d, a, "a released large buffer is reused");
  pool.release(c);
  pool.release(b);
  pool.release(d);
  assert.equal(pool.largeLent, 0);
  assert.equal(pool.smallSize, 256);
});

Deno.test("buffer pool: a payload that fits a small buffer gets a small one", () => {
  const pool = new BufferPool(options);
  assert.deepEqual([pool.acquire(256).length, pool.acquire(0).length], [256, 256]);
  assert.equal(pool.largeLent, 0);
});

Deno.test("buffer pool: keeps every large buffer and at most maxFreeSmall small ones", () => {
  const pool = new BufferPool(options);
  const large = [pool.acquire(5000), pool.acquire(5000)];
  const small = [pool.acquire(0), pool.acquire(0)];
  for (const buffer of [...large, ...small]) pool.release(buffer);
  const largeAgain = [pool.acquire(5000), pool.acquire(5000)];
  const smallAgain = [pool.acquire(0), pool.acquire(0)];
  assert.equal(largeAgain.filter((buffer) => large.includes(buffer)).length, 2);
  assert.equal(smallAgain.filter((buffer) => small.includes(buffer)).length, 1);
});

Deno.test("buffer pool: refuses a small size that is not below the large one", () => {
  assert.throws(() => new BufferPool({ ...options, smallSize: 1024 }), RangeError);
});
