/** Clients changing profiles at once keep each other's changes (`cli/profile_command.ts`). */
import assert from "node:assert/strict";
import { DENO, PROJECT_DIR } from "./_helpers.ts";
import { clientWorkspace } from "./_processes.ts";
import { readProfiles } from "../cli/profiles.ts";
import { recordInProfile } from "../cli/profile_command.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const CLIENTS = 8;
const SETS = 8;

/** A client process recording SETS profiles of its own, one after another (as keygen does). */
const CLIENT_SCRIPT = `
import { recordInProfile } from "${PROJECT_DIR}/cli/profile_command.ts";
const [path, client] = Deno.args;
for (let i = 0; i < ${SETS}; i++) {
  await recordInProfile(path, "c" + client + "-" + i, { server: "127.0.0.1:" + (1000 + i) });
}
`;

Deno.test("clients recording profiles at once lose none of each other's", async () => {
  const home = await Deno.makeTempDir({ prefix: "backup-profiles-lock-" });
  const path = `${home}/backup-client/profiles.json`;
  try {
    const clients = Array.from({ length: CLIENTS }, (_, client) =>
      new Deno.Command(DENO, {
        args: ["eval", "--quiet", CLIENT_SCRIPT, path, String(client)],
        stdout: "null",
        stderr: "piped",
      }).output());
    for (const { code, stderr } of await Promise.all(clients)) {
      assert.equal(code, 0, new TextDecoder().decode(stderr));
    }
    const profiles = await readProfiles(path);
    assert.equal(Object.keys(profiles).length, CLIENTS * SETS, "every profile kept");
    assert.deepEqual(profiles["c3-5"], { server: "127.0.0.1:1005" });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("`profile set` from clients at once: every profile kept", async () => {
  await using w = await clientWorkspace("backup-profiles-lock-");
  const sets = await Promise.all(
    Array.from(
      { length: CLIENTS },
      (_, client) => w.client("profile", "set", `p${client}`, `--server=h:${client + 1}`),
    ),
  );
  for (const set of sets) assert.equal(set.code, 0, set.stderr);
  const profiles = await readProfiles(`${w.dir}/config/backup-client/profiles.json`);
  assert.deepEqual(
    Object.keys(profiles).sort(),
    Array.from({ length: CLIENTS }, (_, c) => `p${c}`),
  );
});

Deno.test("a profile change refused by its flags or the file takes no lock and makes no file", async () => {
  await using w = await clientWorkspace("backup-profiles-lock-");
  const folder = `${w.dir}/config/backup-client`;
  for (
    const args of [
      ["profile", "remove", "nope"],
      ["profile", "unset", "nope", "tls"],
      ["profile", "unset", "nope", "colour"],
      ["profile", "set", "a"],
    ]
  ) {
    const refused = await w.client(...args);
    assert.equal(refused.code, 2, `${args.join(" ")}: ${refused.stderr}`);
  }
  const made = await Deno.stat(folder).then(() => true, () => false);
  assert.equal(made, false, "no config folder, no lock file");
});

Deno.test("keygen's record keeps a key the profile got after keygen read it (decided under the lock)", async () => {
  const home = await Deno.makeTempDir({ prefix: "backup-profiles-keep-" });
  const path = `${home}/backup-client/profiles.json`;
  try {
    // keygen read no key in `default`; a `profile set default --key` landed before its record.
    await recordInProfile(path, "default", { key: "/keys/chosen" });
    await recordInProfile(path, "default", { key: "/keys/scratch", user: 7 }, ["key"]);
    assert.deepEqual((await readProfiles(path)).default, { key: "/keys/chosen", user: 7 });
    // A profile named outright takes the new key.
    await recordInProfile(path, "default", { key: "/keys/scratch" });
    assert.equal((await readProfiles(path)).default.key, "/keys/scratch");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
