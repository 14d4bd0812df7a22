// The dashboard is served by the paas binary under /ui/ (paas-graphql/src/ui.rs), from the files
// this build writes to ../ui (committed; scripts/build-ui rebuilds and checks them).
import { defineConfig } from "vite";

export default defineConfig({
  base: "/ui/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    // scripts/build-ui --check builds into a temporary dir and compares.
    outDir: process.env.PAAS_UI_OUT ?? "../ui",
    emptyOutDir: true,
    assetsDir: "assets",
    // The page's CSP allows no inline script: nothing inlined, no preload polyfill.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
});
