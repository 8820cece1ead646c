#!/usr/bin/env node
"use strict";
// The moe-lab CLI. The TypeScript sources are compiled to dist/ by `npm install` (prepare) or `npm run build`.
const path = require("path");
const fs = require("fs");
const entry = path.join(__dirname, "..", "dist", "cli", "main.js");
if (!fs.existsSync(entry)) {
  process.stderr.write("moe-lab: not built yet: run `npm install` (or `npm run build`) in the moe-lab folder first\n");
  process.exit(2);
}
require(entry).runFromProcess();
