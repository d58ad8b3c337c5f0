// Lint for bugs, not style: promises nobody awaits, unused code, `any` that hides a type error, and
// ESLint's own correctness rules. Layout is Prettier's (.prettierrc.json): no rule here overlaps it.
// Run by scripts/test.sh before the tests.
import js from "@eslint/js";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "build/", "node_modules/", ".tmp/", ".cache/", "coverage/", ".tap/", "fixtures/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: dirname(fileURLToPath(import.meta.url)) },
    },
    rules: {
      // A promise nobody awaits loses its error and its ordering (the hooks must exit only when done).
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-expressions": ["error", { allowShortCircuit: true, allowTernary: true }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    // Test doubles may stand in for SDK types that are not worth spelling out.
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      // tap queues a top-level t.test() itself and reports its failures; other promises still count.
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafePromises: [
            { from: "package", name: "PromiseWithSubtest", package: "@tapjs/core" },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
);
