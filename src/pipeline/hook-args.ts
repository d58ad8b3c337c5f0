/** The hooks' optional first argument `--config=FILE`; kept apart so the restore hook loads no archive code. */
export function splitHookArgs(all: readonly string[]): { configPath: string | undefined; argv: string[] } {
  const first = all[0];
  if (first?.startsWith("--config="))
    return { configPath: first.slice("--config=".length), argv: all.slice(1) };
  return { configPath: undefined, argv: [...all] };
}
