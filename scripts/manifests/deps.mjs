// Where the checkers' npm packages live: scripts/check-manifests installs them
// into .deps/npm-k8s (gitignored) and says so in CHECK_MANIFESTS_NODE_MODULES.
// Node resolves bare imports from the importing file's folder, which is not
// that one, so they are loaded from there explicitly.
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const NM = process.env.CHECK_MANIFESTS_NODE_MODULES ||
    path.resolve(HERE, "../../.deps/npm-k8s/node_modules");

const require = createRequire(path.join(NM, "noop.js"));
export const yaml = require("js-yaml");
export const Ajv = require("ajv");
export const addFormats = require("ajv-formats");

// An ES module file inside NM (kubernetes-models are ES modules only).
export function importFile(file) {
    return import(pathToFileURL(file).href);
}
