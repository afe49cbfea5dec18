import type { BackupClient } from "./backup_client.ts";

/**
 * What the command line needs of a client, whichever protocol version it speaks: `BackupClient`
 * (version 1) and `BackupClientV2` both provide it.
 */
export type FileClient = Pick<
  BackupClient,
  "userId" | "backupFile" | "retrieveToFile" | "delete" | "list" | "close"
>;
