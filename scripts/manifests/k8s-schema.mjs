// Kubernetes schema checks: kubernetes-models (the Kubernetes OpenAPI schemas
// compiled to validators) for types, enums and required fields. Those
// validators accept unknown fields, as the API server's non-strict decoding
// does, so unknown fields are found separately from the models' TypeScript
// declarations (the same generated schema, field by field).
import fs from "node:fs";
import path from "node:path";
import { NM, importFile } from "./deps.mjs";

// ---------------------------------------------------------------- models
// apiVersion group -> package directory holding <group>/<version>/<Kind>.d.ts
function packageFor(apiVersion) {
    const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
    if (group === "monitoring.coreos.com") {
        return { dir: path.join(NM, "@kubernetes-models/prometheus-operator") };
    }
    if (group === "" || !group.includes(".") || group.endsWith(".k8s.io")) {
        return { dir: path.join(NM, "kubernetes-models") };
    }
    return null;
}

async function modelClass(apiVersion, kind) {
    const pkg = packageFor(apiVersion);
    if (pkg === null) return null;
    if (!fs.existsSync(path.join(pkg.dir, apiVersion, `${kind}.d.ts`))) return null;
    const mod = await importFile(path.join(pkg.dir, apiVersion, `${kind}.js`));
    return mod[kind] ?? null;
}

// ---------------------------------------------------------------- field index
// Every `export interface` of the models' .d.ts files, with its fields' type
// text, and the fully qualified aliases (IIoK8sApiCoreV1Container, ...) the
// declarations use to refer to each other.
const aliases = new Map(); // alias -> {file, local}
const interfaces = new Map(); // file#local -> {file, props: Map(name -> type text), parents: [names]}
let indexed = false;

function* dtsFiles(dir) {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
            if (e.name !== "node_modules") yield* dtsFiles(p);
        } else if (e.name.endsWith(".d.ts")) {
            yield p;
        }
    }
}

function buildIndex() {
    if (indexed) return;
    indexed = true;
    const roots = ["kubernetes-models", "@kubernetes-models/apimachinery", "@kubernetes-models/prometheus-operator"];
    for (const root of roots) {
        const dir = path.join(NM, root);
        if (!fs.existsSync(dir)) throw new Error(`${dir} is missing`);
        for (const file of dtsFiles(dir)) {
            const src = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
            for (const m of src.matchAll(/export type \{([^}]*)\}/g)) {
                for (const part of m[1].split(",")) {
                    const mm = part.trim().match(/^(\w+) as (\w+)$/);
                    if (mm) aliases.set(mm[2], { file, local: mm[1] });
                }
            }
            for (const m of src.matchAll(/^export interface (\w+)(?: extends ([^{]+))? \{\n([\s\S]*?)^\}/gm)) {
                const props = parseProps(m[3]);
                const parents = m[2] ? m[2].split(",").map((x) => x.trim()).filter(Boolean) : [];
                interfaces.set(`${file}#${m[1]}`, { file, props, parents });
            }
        }
    }
    if (interfaces.size < 500) throw new Error(`only ${interfaces.size} interfaces found in the models: their layout changed`);
}

// The fields of an interface or inline object type body: name -> type text.
// Nested inline types are indented deeper, so only the first level counts.
function parseProps(body) {
    const props = new Map();
    const first = body.match(/^([ \t]+)"/m);
    if (!first) return props;
    const starts = [...body.matchAll(new RegExp(`^${first[1]}"([^"]+)"\\??: `, "gm"))];
    starts.forEach((s, i) => {
        const end = i + 1 < starts.length ? starts[i + 1].index : body.length;
        props.set(s[1], body.slice(s.index + s[0].length, end).trim().replace(/;$/, ""));
    });
    return props;
}

function resolveInterface(name, fromFile) {
    if (name === "TypeMeta") {
        return { file: fromFile, props: new Map([["apiVersion", "string"], ["kind", "string"]]), parents: [] };
    }
    const local = interfaces.get(`${fromFile}#${name}`);
    if (local) return withParents(local);
    const a = aliases.get(name);
    if (a) {
        const it = interfaces.get(`${a.file}#${a.local}`);
        if (it) return withParents(it);
    }
    return null; // a type alias (Quantity, IntOrString, Time, ...): a leaf
}

function withParents(it) {
    if (it.parents.length === 0) return it;
    const props = new Map();
    for (const p of it.parents) {
        const parent = resolveInterface(p, it.file);
        if (parent === null) return { ...it, open: true }; // unknown parent: cannot tell
        for (const [k, v] of parent.props) props.set(k, v);
    }
    for (const [k, v] of it.props) props.set(k, v);
    return { file: it.file, props, parents: [] };
}

function parseType(t) {
    t = t.trim();
    let m;
    if ((m = t.match(/^Array<([\s\S]*)>$/))) return { kind: "array", of: parseType(m[1]) };
    if (t.startsWith("{") && t.endsWith("}")) {
        const inner = t.slice(1, -1);
        m = inner.match(/^\s*\[key: string\]:\s*([\s\S]*?);?\s*$/);
        if (m) return { kind: "map", of: parseType(m[1]) };
        const props = parseProps(inner); // an inline object type
        return props.size ? { kind: "inline", props } : { kind: "leaf" };
    }
    if ((m = t.match(/^(\w+)$/))) return { kind: "ref", name: m[1] };
    return { kind: "leaf" };
}

function distance(a, b) {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
    }
    return d[a.length][b.length];
}

function suggestion(key, known) {
    let best = null;
    let bestD = Infinity;
    for (const k of known) {
        const dd = distance(key.toLowerCase(), k.toLowerCase());
        if (dd < bestD) [best, bestD] = [k, dd];
    }
    return best !== null && bestD <= Math.max(2, Math.floor(key.length / 4)) ? ` (did you mean "${best}"?)` : "";
}

function walkObject(value, it, where, errors) {
    if (value === null || typeof value !== "object" || Array.isArray(value) || it.open) return;
    for (const [k, v] of Object.entries(value)) {
        const text = it.props.get(k);
        if (text === undefined) {
            errors.push(`${where}.${k}: unknown field${suggestion(k, it.props.keys())}`);
            continue;
        }
        walkType(v, parseType(text), it.file, `${where}.${k}`, errors);
    }
}

function walkType(v, type, file, where, errors) {
    if (type.kind === "array" && Array.isArray(v)) {
        v.forEach((el, i) => walkType(el, type.of, file, `${where}[${i}]`, errors));
    } else if (type.kind === "map" && v !== null && typeof v === "object" && !Array.isArray(v)) {
        for (const [k, el] of Object.entries(v)) walkType(el, type.of, file, `${where}.${k}`, errors);
    } else if (type.kind === "inline") {
        walkObject(v, { file, props: type.props }, where, errors);
    } else if (type.kind === "ref") {
        const it = resolveInterface(type.name, file);
        if (it !== null) walkObject(v, it, where, errors);
    }
}

function unknownFields(doc, where, errors) {
    buildIndex();
    const pkg = packageFor(doc.apiVersion);
    const file = path.join(pkg.dir, doc.apiVersion, `${doc.kind}.d.ts`);
    const it = resolveInterface(`I${doc.kind}`, file);
    if (it === null) {
        errors.push(`${where}: no field list for ${doc.apiVersion} ${doc.kind}`);
        return;
    }
    walkObject(doc, it, where, errors);
}

// ---------------------------------------------------------------- schema
export async function schemaErrors(doc, where) {
    const errors = [];
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return [`${where}: not a mapping`];
    if (typeof doc.apiVersion !== "string" || typeof doc.kind !== "string") {
        return [`${where}: apiVersion and kind are required`];
    }
    const Model = await modelClass(doc.apiVersion, doc.kind);
    if (Model === null) return [`${where}: no schema for ${doc.apiVersion} ${doc.kind} (unknown kind or apiVersion)`];
    try {
        new Model(structuredClone(doc)).validate();
    } catch (e) {
        const list = Array.isArray(e.errors) && e.errors.length
            ? e.errors.map((x) => `${x.instancePath || "/"} ${x.message}`)
            : [e.message];
        for (const msg of list) errors.push(`${where}: ${msg}`);
    }
    unknownFields(doc, where, errors);
    return errors;
}

