/** Clients running at once keep each other's remembered snapshots (`cli/snapshots_seen.ts`). */
import assert from "node:assert/strict";
import { DENO, PROJECT_DIR } from "./_helpers.ts";
import { MAX_ACCOUNTS, SEEN_FILE, seenAccount } from "../cli/snapshots_seen.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const CLIENTS = 8;
const SAVES = 8; // CLIENTS × SAVES accounts: MAX_ACCOUNTS, all of them kept
const id = (n: number) => n.toString(16).padStart(64, "0");

/** A client process saving SAVES accounts of its own, one after another, then marking one encrypted. */
const CLIENT_SCRIPT = `
import { seenAccount } from "${PROJECT_DIR}/cli/snapshots_seen.ts";
const client = Number(Deno.args[0]);
for (let i = 0; i < ${SAVES}; i++) {
  const account = await seenAccount("client" + client + ":1", i);
  await account.save({ host: { id: (client * 100 + i).toString(16).padStart(64, "0") } });
}
await (await seenAccount("client" + client + ":1", 0)).markEncrypted();
`;

Deno.test("clients saving at once lose none of each other's accounts", async () => {
  assert.equal(CLIENTS * SAVES, MAX_ACCOUNTS);
  const home = await Deno.makeTempDir({ prefix: "backup-seen-lock-" });
  const env = { XDG_CONFIG_HOME: home };
  try {
    const clients = Array.from({ length: CLIENTS }, (_, client) =>
      new Deno.Command(DENO, {
        args: ["eval", "--quiet", CLIENT_SCRIPT, String(client)],
        env,
        stdout: "null",
        stderr: "piped",
      }).output());
    for (const { code, stderr } of await Promise.all(clients)) {
      assert.equal(code, 0, new TextDecoder().decode(stderr));
    }
    const file = JSON.parse(await Deno.readTextFile(`${home}/backup-client/${SEEN_FILE}`));
    assert.equal(Object.keys(file.accounts).length, MAX_ACCOUNTS, "every account kept");
    assert.equal(file.encrypted.length, CLIENTS, "every encrypted mark kept");
    // Read back through the module, as the next run does.
    Deno.env.set("XDG_CONFIG_HOME", home);
    try {
      for (let client = 0; client < CLIENTS; client++) {
        for (let i = 0; i < SAVES; i++) {
          const account = await seenAccount(`client${client}:1`, i);
          assert.deepEqual(account?.remembered, { host: { id: id(client * 100 + i) } });
          assert.equal(account?.encrypted, i === 0);
        }
      }
    } finally {
      Deno.env.delete("XDG_CONFIG_HOME");
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
