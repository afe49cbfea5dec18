import assert from "node:assert/strict";
import { RefusalCode, StatusV2 } from "../protocol/v2/constants.ts";
import { encodeResponseV2 } from "../protocol/v2/responses.ts";
import { startFakeServerV2 } from "./_fake_server_v2.ts";
import { accountWorkspace } from "./_cli_account.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("a session closed because its key was removed says so; only a failed sign-in asks for --user", async () => {
  await using a = await accountWorkspace("backup-refusal-hint-");
  const signIn = await a.client("--user=78", "list");
  assert.equal(signIn.code, 1, signIn.stderr);
  assert.match(signIn.stderr, /refused the key of user 78: .*if not, pass --user ID/);

  // The server's answer to a request of a session whose key its operator removed (see
  // server/error_status.ts): refused, authentication failed, session closed.
  await using fake = startFakeServerV2(() =>
    encodeResponseV2({
      status: StatusV2.Refused,
      code: RefusalCode.AuthFailed,
      message: "the key this session signed in with was removed from user 7; session closed",
    })
  );
  const revoked = await a.w.client(`--server=127.0.0.1:${fake.port}`, "--user=7", "list");
  assert.equal(revoked.code, 1, revoked.stderr);
  assert.match(revoked.stderr, /was removed from user 7; session closed/);
  assert.match(revoked.stderr, /the server no longer accepts this key/);
  assert.doesNotMatch(revoked.stderr, /--user/);
});
