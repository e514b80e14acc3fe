import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// During `npm run dev`, API calls go to a `viewfinder serve` running on its default port.
const apiPaths = ["/search", "/images", "/thumbnails", "/stats", "/healthz", "/duplicates"];

export default defineConfig({
  // `viewfinder serve` serves the build at "/", so asset URLs are absolute from the root.
  base: "/",
  plugins: [react()],
  build: {
    // Relative to this folder: the Python package ships these files (git-ignored, built by setup).
    outDir: "../src/viewfinder/webui",
    emptyOutDir: true,
  },
  server: {
    proxy: Object.fromEntries(apiPaths.map((path) => [path, "http://127.0.0.1:8000"])),
  },
});
