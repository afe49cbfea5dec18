/**
 * A `missing` call of a snapshot session whose readiness is held at one LIST (the blob cache's
 * refresh, or the list of the user's packs) while the server's tombstone view reads a doom of an
 * unrelated pack in its background refresh, or goes stale (its background refresh late), on Swift:
 * the call answers stored every blob in a pack no tombstone dooms, and missing every blob of the
 * doomed pack (W1); so does the call after it. Before, the doom made the cache forget the user,
 * and the stale view made every lookup miss: the call answered every blob missing.
 *
 * The second server (`_second_server.ts`) holds its LIST and runs its view's background loop by
 * hand.
 */
import assert from "node:assert/strict";
import { encodeTombstone, tombstonesPrefix } from "../../storage/s3/gc_objects.ts";
import { indexFolder, packsFolder } from "../../storage/s3/keys.ts";
import { openS3 } from "./_s3_storage.ts";
import { SNAPSHOT_ENGINE, USER } from "./_snapshot_repack.ts";
import { VIEW_MAX_AGE_MS, warmSession } from "./_second_server.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

interface Race {
  what: string;
  /** The LIST the call is held at. */
  held: string;
  /** Whether a tombstone dooms the dead snapshot's pack (else the view goes stale). */
  doom: boolean;
}

const races: Race[] = [
  {
    what: "a doom read in the background during the blob cache's refresh",
    held: indexFolder(USER),
    doom: true,
  },
  {
    what: "a doom read in the background during the list of packs",
    held: packsFolder(USER),
    doom: true,
  },
  {
    what: "the view gone stale during the blob cache's refresh",
    held: indexFolder(USER),
    doom: false,
  },
];

for (const race of races) {
  Deno.test(`s3 snapshot missing, ${race.what}: kept blobs stored, doomed ones missing`, async () => {
    await using s3 = await openS3(SNAPSHOT_ENGINE);
    await using warm = await warmSession(s3);
    const { kept, dead, deadPacks, b, session, ids } = warm;
    // A background refresh with nothing new: the view is newer than the list of packs, which
    // the next call therefore lists again.
    await b.clock.wake();
    if (race.doom) {
      await s3.client.put(
        `${tombstonesPrefix(s3.prefix)}0123456789abcdef`,
        encodeTombstone(deadPacks),
      );
    }
    const held = b.hold(race.held);
    const answer = session.missing(ids);
    const release = await held;
    if (race.doom) {
      await b.clock.wake();
      assert.ok(deadPacks.every((pack) => b.view.isDoomed(pack)), "the view read the doom");
    } else {
      b.clock.step(VIEW_MAX_AGE_MS + 1);
    }
    release();
    const expected = [...kept.map(() => false), ...dead.map(() => race.doom)];
    assert.deepEqual(await answer, expected, "the call held");
    assert.deepEqual(await session.missing(ids), expected, "the next call");
  });
}
