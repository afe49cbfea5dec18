import assert from "node:assert/strict";
import { Op, Status } from "../protocol/mod.ts";
import { concat, DENO, RawClient, utf8 } from "./_helpers.ts";
import { spawnServer } from "./_processes.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** A raw retrieve/backup with name bytes that no client-side check has seen. */
function rawRequest(op: number, name: string, payload?: Uint8Array): Uint8Array {
  const nameBytes = utf8(name);
  const head = new Uint8Array(8);
  const view = new DataView(head.buffer);
  view.setUint32(0, 1, true);
  head[4] = 1;
  head[5] = op;
  view.setUint16(6, nameBytes.length, true);
  if (!payload) return concat(head, nameBytes);
  const size = new Uint8Array(4);
  new DataView(size.buffer).setUint32(0, payload.length, true);
  return concat(head, nameBytes, size, payload);
}

Deno.test("the sandboxed server refuses every escape itself, and Deno would deny plain ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "backup-sandbox-" });
  try {
    const root = `${dir}/root`;
    await Deno.mkdir(`${dir}/outside`);
    await Deno.writeTextFile(`${dir}/outside/secret`, "outside");
    const flags = [`--allow-read=${root}`, `--allow-write=${root}`, "--allow-net=127.0.0.1"];
    // Relative to the user's folder ROOT/1: out of the user's folder, and out of the root.
    const outOfRoot = [
      "../../outside/secret",
      "a/../../../outside/secret",
      `${dir}/outside/secret`,
    ];
    const escapes = [...outOfRoot, "../2/theirs", "..\\..\\outside\\secret"];
    {
      await using server = await spawnServer(["--root", root, "--port", "0"], { denoFlags: flags });
      for (const name of escapes) {
        for (const op of [Op.Retrieve, Op.Delete, Op.Backup]) {
          using client = await RawClient.connect(server.port);
          await client.send(rawRequest(op, name, op === Op.Backup ? utf8("pwned") : undefined));
          assert.equal((await client.readResponse()).header.status, Status.GeneralError, name);
          assert.ok(await client.isClosedByServer());
        }
      }
      const stopped = await server.stop();
      assert.equal(stopped.code, 0);
    }
    assert.equal(await Deno.readTextFile(`${dir}/outside/secret`), "outside");
    assert.deepEqual((await Array.fromAsync(Deno.readDir(`${dir}/outside`))).map((e) => e.name), [
      "secret",
    ]);

    // Had the name checks been missing, the same paths joined onto the root would have hit Deno's wall.
    const probe = `
      const root = ${JSON.stringify(root)};
      const results = [];
      for (const name of ${JSON.stringify(outOfRoot)}) {
        const path = name.startsWith("/") ? name : root + "/1/" + name;
        for (const attempt of [() => Deno.readTextFile(path), () => Deno.writeTextFile(path, "x")]) {
          try { await attempt(); results.push("allowed"); }
          catch (error) { results.push(error instanceof Deno.errors.NotCapable ? "denied" : String(error)); }
        }
      }
      console.log(JSON.stringify(results));
    `;
    await Deno.writeTextFile(`${dir}/probe.ts`, probe);
    const output = await new Deno.Command(DENO, {
      args: ["run", "--quiet", "--no-prompt", ...flags, `${dir}/probe.ts`],
      stdin: "null",
    }).output();
    const results = JSON.parse(new TextDecoder().decode(output.stdout));
    assert.deepEqual(results, Array(outOfRoot.length * 2).fill("denied"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
