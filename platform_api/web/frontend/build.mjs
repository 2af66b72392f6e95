// Copy the browser files the web app needs from node_modules (installed by `npm ci` from the
// npm registry) into ../static/vendor. No bundler: three.js ships ES modules that the page loads
// through an import map. Run by `make web`; the output is git-ignored.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const vendor = join(here, "..", "static", "vendor");

function copy(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}

rmSync(vendor, { recursive: true, force: true });

// three.js: the core module (it imports ./three.core.js) and the two add-ons we use.
for (const file of ["three.module.js", "three.core.js"]) {
  copy(join(modules, "three", "build", file), join(vendor, "three", file));
}
for (const addon of ["controls/OrbitControls.js", "loaders/STLLoader.js"]) {
  copy(join(modules, "three", "examples", "jsm", addon), join(vendor, "three", "addons", addon));
}
copy(join(modules, "three", "LICENSE"), join(vendor, "three", "LICENSE"));

// Noto Sans JP (regular and bold): so Japanese renders the same on every machine. Only the
// woff2 files are kept; the browser fetches just the unicode-range subsets a page uses.
const fontPkg = join(modules, "@fontsource", "noto-sans-jp");
let css = "/* Noto Sans JP from @fontsource/noto-sans-jp (SIL Open Font License 1.1) */\n";
for (const weight of ["400", "700"]) {
  let text = readFileSync(join(fontPkg, `${weight}.css`), "utf8");
  text = text.replace(/, url\(\.\/files\/[^)]+\.woff\) format\('woff'\)/g, "");
  for (const m of text.matchAll(/url\(\.\/files\/([^)]+\.woff2)\)/g)) {
    copy(join(fontPkg, "files", m[1]), join(vendor, "fonts", "noto-sans-jp", m[1]));
  }
  css += text.replace(/url\(\.\/files\//g, "url(./noto-sans-jp/");
}
writeFileSync(join(vendor, "fonts", "fonts.css"), css);
copy(join(fontPkg, "LICENSE"), join(vendor, "fonts", "LICENSE"));

writeFileSync(join(vendor, ".built"), new Date().toISOString() + "\n");
console.log(`vendored three.js and Noto Sans JP into ${vendor}`);
