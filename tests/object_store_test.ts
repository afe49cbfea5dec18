import assert from "node:assert/strict";
import { FolderStore } from "../objects/folder_store.ts";
import {
  ObjectNameConflictError,
  ObjectNotFoundError,
  UnsafeObjectError,
} from "../objects/object_store.ts";
import { objectStoreContract } from "./_object_store_contract.ts";

Deno.test.sanitizer({ ops: true, resources: true });

async function openFolder(): Promise<FolderStore & AsyncDisposable> {
  const root = await Deno.makeTempDir({ prefix: "object-store-" });
  const store = await FolderStore.open({ root });
  return Object.assign(store, {
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  });
}

objectStoreContract("folder", openFolder, { refusesNameConflicts: true });

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("folder: an object is a file under the root, its segments as folders", async () => {
  await using store = await openFolder();
  await store.put("packs/3f/3f0a.pack", bytes("pack"));
  assert.equal(await Deno.readTextFile(`${store.root}/packs/3f/3f0a.pack`), "pack");
  assert.deepEqual([...Deno.readDirSync(`${store.root}/packs/3f`)].map((e) => e.name), [
    "3f0a.pack",
  ], "no temp file is left");
});

Deno.test("folder: a put cut off by a crash leaves a temp file, never listed, swept", async () => {
  await using store = await openFolder();
  await store.put("packs/00/a", bytes("old"));
  // What a crash mid-put leaves: a part-written temp file beside the object it was replacing.
  await Deno.writeTextFile(`${store.root}/packs/00/.tmp-0123456789abcdef`, "half a ne");
  await Deno.mkdir(`${store.root}/index`);
  await Deno.writeTextFile(`${store.root}/index/.tmp-fedcba9876543210`, "");
  assert.deepEqual(await Array.fromAsync(store.list("")), [{ name: "packs/00/a", size: 3 }]);
  assert.deepEqual(await store.get("packs/00/a"), bytes("old"));

  const reopened = await FolderStore.open({ root: store.root });
  assert.equal(await reopened.sweep({ olderThanMs: 3_600_000 }), 0, "too recent to sweep");
  assert.equal(await reopened.sweep(), 2);
  assert.deepEqual([...Deno.readDirSync(`${store.root}/packs/00`)].map((e) => e.name), ["a"]);
  assert.deepEqual([...Deno.readDirSync(`${store.root}/index`)], []);
  assert.equal(await reopened.sweep(), 0);
  assert.deepEqual(await reopened.get("packs/00/a"), bytes("old"));
});

Deno.test("folder: files with names outside the alphabet are not objects", async () => {
  await using store = await openFolder();
  await store.put("a", bytes("a"));
  await Deno.writeTextFile(`${store.root}/README`, "not ours");
  assert.deepEqual(await Array.fromAsync(store.list("")), [{ name: "a", size: 1 }]);
});

Deno.test("folder: a symlink planted in the tree is refused, not followed", async () => {
  await using store = await openFolder();
  const outside = await Deno.makeTempDir({ prefix: "object-store-outside-" });
  try {
    await Deno.writeTextFile(`${outside}/secret`, "secret");
    await store.put("p/real", bytes("real"));
    // A link as an object, and a link as a folder.
    await Deno.symlink(`${outside}/secret`, `${store.root}/p/link`);
    await Deno.symlink(outside, `${store.root}/dir`);

    await assert.rejects(store.get("p/link"), UnsafeObjectError);
    await assert.rejects(store.stat("p/link"), UnsafeObjectError);
    await assert.rejects(store.delete("p/link"), UnsafeObjectError);
    await assert.rejects(store.put("p/link", bytes("x")), UnsafeObjectError);
    await assert.rejects(store.get("dir/secret"), UnsafeObjectError);
    await assert.rejects(store.stat("dir/secret"), UnsafeObjectError);
    await assert.rejects(store.put("dir/new", bytes("x")), UnsafeObjectError);
    await assert.rejects(store.delete("dir/secret"), UnsafeObjectError);
    await assert.rejects(Array.fromAsync(store.list("p/")), UnsafeObjectError);
    await assert.rejects(Array.fromAsync(store.list("dir/")), UnsafeObjectError);
    await assert.rejects(store.sweep(), UnsafeObjectError);

    assert.equal(await Deno.readTextFile(`${outside}/secret`), "secret", "the target is untouched");
    assert.deepEqual([...Deno.readDirSync(outside)].map((e) => e.name), ["secret"]);
    assert.deepEqual(await store.get("p/real"), bytes("real"), "the rest still serves");
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("folder: a name cannot be both an object and a folder of objects", async () => {
  await using store = await openFolder();
  await store.put("a/b", bytes("b"));
  await assert.rejects(store.put("a", bytes("a")), ObjectNameConflictError);
  await store.put("c", bytes("c"));
  await assert.rejects(store.put("c/d", bytes("d")), ObjectNameConflictError);
  assert.equal(await store.stat("c/d"), undefined);
  await assert.rejects(store.get("c/d"), ObjectNotFoundError);
  await store.delete("c/d");
  assert.deepEqual((await Array.fromAsync(store.list(""))).map((info) => info.name), ["a/b", "c"]);
});

Deno.test("folder: list reads folders lazily, one at a time", async () => {
  await using store = await openFolder();
  for (const folder of ["a", "b", "c"]) {
    for (let i = 0; i < 3; i++) await store.put(`${folder}/${i}`, bytes("x"));
  }
  const seen: string[] = [];
  for await (const { name } of store.list("")) {
    seen.push(name);
    // Once the walk is in folder a, changes to later folders show: they were not read yet.
    if (name === "a/0") {
      await store.delete("b/1");
      await store.put("c/3", bytes("x"));
    }
  }
  assert.deepEqual(seen, ["a/0", "a/1", "a/2", "b/0", "b/2", "c/0", "c/1", "c/2", "c/3"]);
});

Deno.test("folder: the root may be a link, resolved at open", async () => {
  const real = await Deno.makeTempDir({ prefix: "object-store-real-" });
  const link = `${real}-link`;
  try {
    await Deno.symlink(real, link);
    const store = await FolderStore.open({ root: link });
    await store.put("x/y", bytes("y"));
    assert.equal(await Deno.readTextFile(`${real}/x/y`), "y");
    assert.deepEqual(await store.get("x/y"), bytes("y"));
  } finally {
    await Deno.remove(link);
    await Deno.remove(real, { recursive: true });
  }
});
