import type { Location } from "./location.js";
import type { Backend, Scheme } from "./types.js";

/**
 * Scheme → lazily imported backend module. Nothing here imports an SDK: each thunk loads
 * `backends/<name>.js` (and through it the SDK) only when that scheme is first opened, so the
 * archive hook pays for one SDK at most (docs/backends.md, style.md §5.4).
 */
export interface BackendModule<L extends Location = Location> {
  createBackend(location: L): Backend | Promise<Backend>;
}

type LocationOf<S extends Scheme> = Extract<Location, { scheme: S }>;

export type BackendLoaders = { readonly [S in Scheme]: () => Promise<BackendModule<LocationOf<S>>> };

export const backendLoaders: BackendLoaders = {
  file: () => import("./backends/fs.js"),
  s3: () => import("./backends/s3.js"),
  gs: () => import("./backends/gcs.js"),
  az: () => import("./backends/azure.js"),
  mem: () => import("./backends/memory.js"),
};

/** Loads the backend module for `location.scheme` and creates the (undecorated) backend. */
export async function createBackendFor(location: Location): Promise<Backend> {
  const load = backendLoaders[location.scheme] as () => Promise<BackendModule>;
  const mod = await load();
  return mod.createBackend(location);
}
