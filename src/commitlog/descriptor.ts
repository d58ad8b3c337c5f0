/**
 * Descriptor versions, mirroring org.apache.cassandra.db.commitlog.CommitLogDescriptor (VERSION_30 = 6,
 * VERSION_40 = 7, VERSION_50 = 8, VERSION_51 = 9) and its getMessagingVersion() switch. Versions below 6
 * cannot be read by 4.x/5.0 ("Unsupported pre-3.0 commit log"). See cassandra-internals.md section 0.
 */

export interface DescriptorVersionInfo {
  /** The CommitLogDescriptor constant. */
  readonly constant: string;
  /** The Cassandra release line that introduced this version. */
  readonly release: string;
  /** MessagingService version the mutations are serialized with. */
  readonly messagingVersion: number;
}

export const DESCRIPTOR_VERSIONS = {
  6: { constant: "VERSION_30", release: "3.0", messagingVersion: 10 },
  7: { constant: "VERSION_40", release: "4.0", messagingVersion: 12 },
  8: { constant: "VERSION_50", release: "5.0", messagingVersion: 13 },
  // MessagingService.VERSION_51; the number 14 is read from trunk's enum order (unverified).
  9: { constant: "VERSION_51", release: "trunk (5.1)", messagingVersion: 14 },
} as const satisfies Record<number, DescriptorVersionInfo>;

export type DescriptorVersion = keyof typeof DESCRIPTOR_VERSIONS;

export const MIN_DESCRIPTOR_VERSION = 6;
export const MAX_DESCRIPTOR_VERSION = 9;

export function isSupportedVersion(version: number): version is DescriptorVersion {
  return Number.isInteger(version) && version >= MIN_DESCRIPTOR_VERSION && version <= MAX_DESCRIPTOR_VERSION;
}

/** Release line and messaging version of a descriptor version, or undefined when unsupported. */
export function describeVersion(version: number): DescriptorVersionInfo | undefined {
  return isSupportedVersion(version) ? DESCRIPTOR_VERSIONS[version] : undefined;
}
