/**
 * What a version 2 restore gives a file besides its bytes: its permission bits (never set-id or
 * sticky ones) and modification time; or, for a stored link, the link itself.
 *
 * @module
 */
import { ProtocolError } from "../protocol/errors.ts";
import { MAX_LINK_TARGET_BYTES, MODE_SYMLINK, MODE_TYPE_MASK } from "../protocol/v2/constants.ts";
import type { VersionInfo } from "../protocol/v2/responses.ts";

/** Applies `info` to the downloaded temporary file `partial`, before it is renamed into place. */
export async function applyStoredMetadata(partial: string, info: VersionInfo): Promise<void> {
  if (info.mode !== null && (info.mode & MODE_TYPE_MASK) === MODE_SYMLINK) {
    await makeLink(partial, info);
    return;
  }
  if (info.mode !== null && Deno.build.os !== "windows") {
    await Deno.chmod(partial, info.mode & 0o777);
  }
  const mtime = new Date(info.mtimeMs);
  await Deno.utime(partial, mtime, mtime);
}

/**
 * Turns a downloaded link's temporary file into the link itself: its bytes are the target. The
 * link is made, never followed.
 */
async function makeLink(partial: string, info: VersionInfo): Promise<void> {
  if (info.size > MAX_LINK_TARGET_BYTES) {
    throw new ProtocolError(
      `a link target of ${info.size} bytes (at most ${MAX_LINK_TARGET_BYTES})`,
    );
  }
  let target: string;
  try {
    target = new TextDecoder("utf-8", { fatal: true }).decode(await Deno.readFile(partial));
  } catch {
    throw new ProtocolError("a link target that is not UTF-8");
  }
  if (target.length === 0 || target.includes("\0")) {
    throw new ProtocolError("an invalid link target");
  }
  await Deno.remove(partial);
  await Deno.symlink(target, partial);
}
