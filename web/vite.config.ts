import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the APIs to a `strata dev` on :8080.
const api = process.env.STRATA_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false, target: "es2022" },
  server: {
    proxy: Object.fromEntries(["/graphql", "/auth", "/v1"].map((p) => [p, { target: api, changeOrigin: false }])),
  },
  test: { include: ["tests/unit/**/*.test.ts"], environment: "node" },
});
