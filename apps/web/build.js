// Copies the static site into dist/ and writes a content hash next to it.
const fs = require("node:fs");
const path = require("node:path");
const { sha256Hex } = require("@cipherbox/crypto");

const out = path.join(__dirname, "dist");
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const html = fs.readFileSync(path.join(__dirname, "index.html"));
fs.writeFileSync(path.join(out, "index.html"), html);
fs.writeFileSync(path.join(out, "index.html.sha256"), `${sha256Hex(html)}  index.html\n`);
console.log(`web: wrote ${path.relative(process.cwd(), out)}/index.html`);
