/**
 * S3 Object Lock (WORM) for the archive: the policy every archived object is written with, read
 * from the settings once, and what the bucket says about it (for `check`). Only s3:// archives hold
 * locks; Azure and GCS give the same guarantee through container/bucket retention policies set on
 * the service, not per object (docs/least-privilege.md).
 */
import { ConfigError } from "../errors/base.js";
import type { Config } from "../config/schema.js";
import type { Location } from "./location.js";

export interface ObjectLockPolicy {
  readonly mode: "governance" | "compliance";
  /** Each object is locked until its write time plus this. */
  readonly retentionMs: number;
}

/** The bucket's object-lock state, as `check` reports it. */
export interface BucketLockState {
  readonly enabled: boolean;
  /** The bucket's default retention, when it has one ("COMPLIANCE 30 days"). */
  readonly defaultRetention?: string | undefined;
}

/** The policy the settings ask for, or undefined when objectLock is `none`. */
export function objectLockPolicy(
  config: Pick<Config, "objectLock" | "objectLockRetention">,
): ObjectLockPolicy | undefined {
  if (config.objectLock === "none") return undefined;
  if (config.objectLockRetention === undefined) {
    throw new ConfigError(`objectLock: ${config.objectLock} needs objectLockRetention`, {
      hint: "set objectLockRetention (e.g. 35d: longer than prune's --keep, so prune never meets a locked object it wants to delete)",
    });
  }
  return { mode: config.objectLock, retentionMs: config.objectLockRetention };
}

/** Refuses a lock policy on a location that cannot hold per-object locks. */
export function requireLockableLocation(location: Location, policy: ObjectLockPolicy | undefined): void {
  if (policy === undefined || location.scheme === "s3") return;
  throw new ConfigError(
    `objectLock: ${policy.mode} is supported on s3:// archives only, not on '${location.display}'`,
    {
      hint: "on Azure and GCS set a retention policy on the container or bucket instead (docs/least-privilege.md), and set objectLock: none",
    },
  );
}

/**
 * What the bucket of an s3:// location says about object lock (one GetObjectLockConfiguration);
 * undefined for other schemes.
 */
export async function readBucketLockState(
  location: Location,
  signal?: AbortSignal,
): Promise<BucketLockState | undefined> {
  if (location.scheme !== "s3") return undefined;
  const { createBackend } = await import("./backends/s3.js");
  const backend = createBackend(location);
  try {
    return await backend.bucketLockState({ signal });
  } finally {
    await backend.close();
  }
}
