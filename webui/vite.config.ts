/// <reference types="vitest/config" />
// Builds the command post into the Python package (rallypoint/web), so `pip install` alone
// serves it; `npx vitest run` runs the state-logic unit tests under test/.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/** milsymbol without its icon sets; symbols.ts adds only 2525C (the SIDCs the server sends). */
const milsymbolCore = fileURLToPath(new URL("node_modules/milsymbol/index.mjs", import.meta.url));

export default defineConfig({
  base: "/",
  resolve: { alias: { "milsymbol-core": milsymbolCore } },
  build: {
    outDir: "../src/rallypoint/web",
    emptyOutDir: true,
    assetsDir: "assets",
    // MapLibre alone is ~1 MB minified; it gets its own long-cached chunk.
    chunkSizeWarningLimit: 1100,
    rollupOptions: {
      output: { manualChunks: { maplibre: ["maplibre-gl"], milsymbol: ["milsymbol-core"] } },
    },
    sourcemap: false,
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
