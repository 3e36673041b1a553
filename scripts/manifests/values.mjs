// Helm values: values.yaml, and each ci/*-values.yaml merged on top, against
// values.schema.json (ajv, draft-07, strict), plus the grace/window rule.
import fs from "node:fs";
import path from "node:path";
import { yaml, Ajv, addFormats } from "./deps.mjs";

export function readYaml(file) {
    return yaml.load(fs.readFileSync(file, "utf8"), { filename: file }) ?? {};
}

function merge(dst, src) { // Helm's coalesce: maps merge, null deletes, the rest replaces
    for (const [k, v] of Object.entries(src)) {
        if (v === null) delete dst[k];
        else if (v && typeof v === "object" && !Array.isArray(v) && dst[k] && typeof dst[k] === "object" && !Array.isArray(dst[k])) {
            merge(dst[k], v);
        } else dst[k] = v;
    }
    return dst;
}

export function valuesValidator(chart) {
    const schema = JSON.parse(fs.readFileSync(path.join(chart, "values.schema.json"), "utf8"));
    if (schema.$schema !== "http://json-schema.org/draft-07/schema#") {
        throw new Error("values.schema.json must declare JSON Schema draft-07");
    }
    const ajv = new Ajv({ allErrors: true, strict: true });
    addFormats(ajv);
    return ajv.compile(schema); // also checks the schema against the draft-07 meta-schema
}

export function valuesErrors(validate, values, where) {
    const errors = [];
    if (!validate(values)) {
        for (const e of validate.errors) {
            const extra = e.keyword === "additionalProperties" ? ` "${e.params.additionalProperty}"` : "";
            errors.push(`${where}: ${e.instancePath || "/"} ${e.message}${extra}`);
        }
    }
    const grace = values.lsinit && values.lsinit.graceSeconds;
    const window = values.terminationGracePeriodSeconds;
    if (Number.isInteger(grace) && Number.isInteger(window) && !(window >= grace + 2)) {
        errors.push(`${where}: terminationGracePeriodSeconds (${window}) must exceed lsinit.graceSeconds (${grace}) by at least 2`);
    }
    return errors;
}

export function valueSets(chart) {
    const base = readYaml(path.join(chart, "values.yaml"));
    const sets = [{ where: path.join(chart, "values.yaml"), values: base }];
    const ci = path.join(chart, "ci");
    if (fs.existsSync(ci)) {
        for (const f of fs.readdirSync(ci).filter((x) => x.endsWith("-values.yaml")).sort()) {
            sets.push({ where: path.join(ci, f), values: merge(structuredClone(base), readYaml(path.join(ci, f))) });
        }
    }
    return sets;
}

