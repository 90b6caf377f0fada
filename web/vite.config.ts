import { defineConfig } from 'vite';

// The build goes straight into the Go package that embeds it
// (internal/webui/dist), and is committed, so that `go build` needs no
// Node. scripts/test.sh rebuilds it into a temporary directory and fails
// if the committed copy differs: keep the output deterministic (no
// timestamps, no absolute paths, content-hashed file names only).
export default defineConfig({
  base: '/ui/',
  build: {
    outDir: '../internal/webui/dist',
    emptyOutDir: true,
    sourcemap: false,
    manifest: false,
    modulePreload: { polyfill: false },
    target: 'es2022',
  },
  server: {
    // npm run dev: proxy the API to a running `cairn serve` (CAIRN_URL, default
    // http://127.0.0.1:8080) so that the UI reloads as you edit it.
    proxy: { '/api': process.env.CAIRN_URL ?? 'http://127.0.0.1:8080' },
  },
});
