/**
 * What every object store promises, through `ObjectStore` alone. `tests/object_store_test.ts` runs
 * it against `FolderStore`; an S3 store joins by calling `objectStoreContract` with a factory that
 * opens an empty bucket (or prefix) and cleans it up on dispose, and says what the store does where
 * the interface lets stores differ ({@linkcode ObjectStoreTraits}).
 *
 * @module
 */
import assert from "node:assert/strict";
import { bytesSource } from "../io/byte_stream.ts";
import {
  InvalidObjectNameError,
  ObjectNameConflictError,
  ObjectNotFoundError,
  ObjectSizeMismatchError,
  type ObjectStore,
} from "../objects/object_store.ts";
import { MAX_OBJECT_NAME_BYTES } from "../objects/object_names.ts";

/** Opens a fresh, empty store of the implementation under test. */
export type OpenObjectStore = () => Promise<ObjectStore & AsyncDisposable>;

const fill = (size: number, seed: number) => {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
};

/** What a store does where `ObjectStore` lets stores differ: each store declares it, none is assumed. */
export interface ObjectStoreTraits {
  /**
   * Whether a `put` of `a` when `a/b` exists (or of `a/b` when `a` exists) is refused with
   * `ObjectNameConflictError` (a folder store: a name cannot be a file and a folder) or stores
   * both (S3).
   */
  refusesNameConflicts: boolean;
}

/** Registers the contract's tests, each named `label: rule`. */
export function objectStoreContract(
  label: string,
  open: OpenObjectStore,
  traits: ObjectStoreTraits,
): void {
  const test = (name: string, fn: () => Promise<void>) => Deno.test(`${label}: ${name}`, fn);

  if (traits.refusesNameConflicts) {
    test("a name that is a folder of objects, or under an object, is refused", async () => {
      await using store = await open();
      await store.put("t/a/b", fill(1, 1));
      await assert.rejects(store.put("t/a", fill(2, 2)), ObjectNameConflictError);
      await store.put("t/c", fill(3, 3));
      await assert.rejects(store.put("t/c/d", fill(4, 4)), ObjectNameConflictError);
      assert.deepEqual(await Array.fromAsync(store.list("t/")), [
        { name: "t/a/b", size: 1 },
        { name: "t/c", size: 3 },
      ]);
    });
  } else {
    test("a name and the names under it are separate objects", async () => {
      await using store = await open();
      await store.put("t/a/b", fill(1, 1));
      await store.put("t/a", fill(2, 2));
      assert.deepEqual(await store.get("t/a"), fill(2, 2));
      assert.deepEqual(await store.get("t/a/b"), fill(1, 1));
      assert.deepEqual(await Array.fromAsync(store.list("t/")), [
        { name: "t/a", size: 2 },
        { name: "t/a/b", size: 1 },
      ]);
      await store.delete("t/a");
      assert.deepEqual(await store.get("t/a/b"), fill(1, 1));
    });
  }

  test("a put object reads back whole, and stat gives its size", async () => {
    await using store = await open();
    for (const [name, size] of [["empty", 0], ["one", 1], ["a/b/large", 3 * 1024 * 1024 + 7]]) {
      const bytes = fill(size as number, 3);
      await store.put(name as string, bytes);
      assert.deepEqual(await store.get(name as string), bytes, `${name}`);
      assert.deepEqual(await store.stat(name as string), { size });
    }
  });

  test("a created object appears whole at its commit, never before; an abort leaves nothing", async () => {
    await using store = await open();
    await store.put("w/replaced", fill(10, 1));
    const writer = await store.create("w/replaced");
    const parts = [fill(100_000, 2), fill(1, 3), fill(2_000_000, 4)];
    for (const part of parts) {
      await writer.write(part);
      part.fill(0); // the caller reuses its buffer
    }
    assert.deepEqual(await store.get("w/replaced"), fill(10, 1), "the old object until the commit");
    const before = await Array.fromAsync(store.list("w/"));
    assert.deepEqual(before, [{ name: "w/replaced", size: 10 }], "nothing half-written is listed");
    await writer.commit();
    const whole = concatBytes(fill(100_000, 2), fill(1, 3), fill(2_000_000, 4));
    assert.deepEqual(await store.get("w/replaced"), whole);
    const dropped = await store.create("w/dropped");
    await dropped.write(fill(1000, 5));
    await dropped.abort();
    await dropped.abort(); // twice is fine
    assert.equal(await store.stat("w/dropped"), undefined);
    const empty = await store.create("w/empty");
    await empty.commit();
    assert.deepEqual(await store.stat("w/empty"), { size: 0 });
    assert.deepEqual(
      (await Array.fromAsync(store.list("w/"))).map((info) => info.name),
      ["w/empty", "w/replaced"],
    );
  });

  test("a put from a source takes exactly its declared size", async () => {
    await using store = await open();
    const bytes = fill(1_000_003, 5);
    await store.put("s/ok", { source: bytesSource(bytes), size: bytes.length });
    assert.deepEqual(await store.get("s/ok"), bytes);
    const short = store.put("s/short", { source: bytesSource(bytes), size: bytes.length + 1 });
    await assert.rejects(short, ObjectSizeMismatchError);
    const long = store.put("s/long", { source: bytesSource(bytes), size: bytes.length - 1 });
    await assert.rejects(long, ObjectSizeMismatchError);
    assert.equal(await store.stat("s/short"), undefined, "a refused put leaves nothing");
    assert.equal(await store.stat("s/long"), undefined);
    assert.deepEqual(await Array.fromAsync(store.list("s/")), [{
      name: "s/ok",
      size: bytes.length,
    }]);
  });

  test("a range reads its bytes; past the end it stops at the end; zero length is empty", async () => {
    await using store = await open();
    const bytes = fill(10_000, 9);
    await store.put("r", bytes);
    const get = (offset: number, length: number) => store.get("r", { offset, length });
    assert.deepEqual(await get(0, 10_000), bytes);
    assert.deepEqual(await get(1234, 100), bytes.subarray(1234, 1334));
    assert.deepEqual(await get(9_990, 100), bytes.subarray(9_990), "stops at the end");
    assert.deepEqual(await get(10_000, 5), new Uint8Array(0), "at the end: empty");
    assert.deepEqual(await get(50_000, 5), new Uint8Array(0), "past the end: empty");
    assert.deepEqual(await get(17, 0), new Uint8Array(0), "zero length");
    assert.deepEqual(await get(0, Number.MAX_SAFE_INTEGER), bytes);
    await assert.rejects(get(-1, 5), RangeError);
    await assert.rejects(get(0, 1.5), RangeError);
  });

  test("a missing object: get throws ObjectNotFoundError, stat is undefined, delete is fine", async () => {
    await using store = await open();
    await assert.rejects(store.get("nothing/here"), ObjectNotFoundError);
    await assert.rejects(store.get("nothing", { offset: 0, length: 1 }), ObjectNotFoundError);
    assert.equal(await store.stat("nothing/here"), undefined);
    await store.delete("nothing/here");
    await store.put("dir/x", fill(3, 1));
    assert.equal(await store.stat("dir"), undefined, "a folder of objects is not an object");
    await assert.rejects(store.get("dir"), ObjectNotFoundError);
  });

  test("an overwrite replaces the object; a delete removes it, twice is fine", async () => {
    await using store = await open();
    await store.put("o/x", fill(5_000, 1));
    await store.put("o/x", fill(300, 2));
    assert.deepEqual(await store.get("o/x"), fill(300, 2));
    assert.deepEqual(await store.stat("o/x"), { size: 300 });
    await store.delete("o/x");
    await store.delete("o/x");
    assert.equal(await store.stat("o/x"), undefined);
    await assert.rejects(store.get("o/x"), ObjectNotFoundError);
    assert.deepEqual(await Array.fromAsync(store.list("")), []);
  });

  test("a reader during overwrites sees the old or the new object, never a mix", async () => {
    await using store = await open();
    // Version v: every byte is v, and its size says v too.
    const version = (v: number) => new Uint8Array(2 * 1024 * 1024 + v * 65_536).fill(v);
    const check = (bytes: Uint8Array, whole: boolean) => {
      const v = bytes[0];
      if (whole) assert.equal(bytes.length, version(v).length, `size of version ${v}`);
      assert.ok(bytes.every((b) => b === v), `version ${v} is not mixed`);
    };
    await store.put("big", version(1));
    let writing = true;
    const writer = (async () => {
      try {
        for (let v = 2; v <= 12; v++) {
          await store.put(
            "big",
            v % 2 ? version(v) : { source: bytesSource(version(v)), size: version(v).length },
          );
        }
      } finally {
        writing = false;
      }
    })();
    const reader = async () => {
      let reads = 0;
      while (writing || reads === 0) {
        check(await store.get("big"), true);
        check(await store.get("big", { offset: 1_000_000, length: 1_500_000 }), false);
        reads++;
      }
      return reads;
    };
    const reads = await Promise.all([reader(), reader(), reader()]);
    await writer;
    assert.ok(reads.every((count) => count > 0));
    assert.deepEqual(await store.get("big"), version(12));
  });

  test("list yields names in byte order, filtered by a string prefix", async () => {
    await using store = await open();
    // '-' < '.' < '/' < '0' < '_' < 'a': a folder's objects sort as if its name ended in '/'.
    const names = ["p/a-y", "p/a.x", "p/a/b", "p/a0", "p/a_", "p/ab/c", "p/ab/c0", "q", "p0"];
    for (const [i, name] of names.entries()) await store.put(name, fill(i, i));
    const list = async (prefix: string) =>
      (await Array.fromAsync(store.list(prefix))).map((info) => info.name);
    const sorted = [...names].sort();
    assert.deepEqual(await list(""), sorted);
    assert.deepEqual(await list("p/"), [
      "p/a-y",
      "p/a.x",
      "p/a/b",
      "p/a0",
      "p/a_",
      "p/ab/c",
      "p/ab/c0",
    ]);
    assert.deepEqual(await list("p/a"), await list("p/"));
    assert.deepEqual(await list("p/a/"), ["p/a/b"]);
    assert.deepEqual(await list("p/a."), ["p/a.x"]);
    assert.deepEqual(await list("p/ab/c"), ["p/ab/c", "p/ab/c0"]);
    assert.deepEqual(await list("p"), sorted.filter((name) => name.startsWith("p")));
    assert.deepEqual(await list("zz"), []);
    assert.deepEqual(await list("nothing/"), []);
    assert.deepEqual(await list("q/"), [], "under an object: nothing");
    const sizes = await Array.fromAsync(store.list("p/a/"));
    assert.deepEqual(sizes, [{ name: "p/a/b", size: names.indexOf("p/a/b") }]);
  });

  test("5,000 objects are listed in order, and a listing can stop early", async () => {
    await using store = await open();
    const names: string[] = [];
    for (let folder = 0; folder < 50; folder++) {
      for (let i = 0; i < 100; i++) names.push(`many/${folder.toString(16)}/${i}`);
    }
    for (let at = 0; at < names.length; at += 100) {
      await Promise.all(
        names.slice(at, at + 100).map((name) => store.put(name, new Uint8Array(1))),
      );
    }
    let count = 0;
    let last = "";
    for await (const { name, size } of store.list("many/")) {
      assert.ok(name > last, `${name} after ${last}`);
      assert.equal(size, 1);
      last = name;
      count++;
    }
    assert.equal(count, names.length);
    let seen = 0;
    for await (const _ of store.list("")) if (++seen === 10) break;
    assert.equal(seen, 10);
  });

  test("invalid names and prefixes are refused before any I/O", async () => {
    await using store = await open();
    const bad = [
      "",
      "/a",
      "a/",
      "a//b",
      ".",
      "..",
      "a/../b",
      "../a",
      ".hidden",
      "a/.tmp-1",
      "A",
      "a b",
      "a\\b",
      "a\0b",
      "é",
      "x".repeat(MAX_OBJECT_NAME_BYTES + 1),
    ];
    for (const name of bad) {
      await assert.rejects(store.put(name, new Uint8Array(1)), InvalidObjectNameError, name);
      await assert.rejects(store.get(name), InvalidObjectNameError, name);
      await assert.rejects(store.stat(name), InvalidObjectNameError, name);
      await assert.rejects(store.delete(name), InvalidObjectNameError, name);
    }
    for (const prefix of ["/", "a//", "../", "./", "A", "x".repeat(MAX_OBJECT_NAME_BYTES + 1)]) {
      // A store may throw at the call or at the first step.
      await assert.rejects(
        async () => await Array.fromAsync(store.list(prefix)),
        InvalidObjectNameError,
      );
    }
    await store.put("x".repeat(MAX_OBJECT_NAME_BYTES), new Uint8Array(1));
    assert.deepEqual(await Array.fromAsync(store.list("")), [
      { name: "x".repeat(MAX_OBJECT_NAME_BYTES), size: 1 },
    ]);
  });
}

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) at += (bytes.set(part, at), part.length);
  return bytes;
}
