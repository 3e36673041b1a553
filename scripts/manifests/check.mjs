// Validates Kubernetes manifests and Helm values for scripts/check-manifests.
//
//   node check.mjs manifests LABEL FILE...       schema + unknown fields + lsinit rules
//   node check.mjs followers LABEL N LAG FILE... the set holds N followers (0: no follower
//                                                objects) with LSINIT_FOLLOW_MAX_LAG=LAG (- : any)
//   node check.mjs standby LABEL N FILE...       the set holds N standby workloads (0 or 1) and,
//                                                with one, the write and read Services for it
//   node check.mjs values CHART_DIR              values.yaml (+ ci/*-values.yaml) vs values.schema.json
//   node check.mjs selftest K8S_FILE CHART_DIR [FOLLOWERS_FILE [STANDBY_FILE]]
//                                                the checks must catch known breakage
//
// Exit status 1 on any finding.
import fs from "node:fs";
import path from "node:path";
import { yaml } from "./deps.mjs";
import { expectFollowers, followerCases } from "./followers.mjs";
import { schemaErrors } from "./k8s-schema.mjs";
import { lsinitRules } from "./lsinit-rules.mjs";
import { expectStandby, standbyCases } from "./standby.mjs";
import { readYaml, valuesValidator, valuesErrors, valueSets } from "./values.mjs";

function loadDocs(file, text) {
    const out = [];
    yaml.loadAll(text ?? fs.readFileSync(file, "utf8"), (doc) => {
        if (doc !== null && doc !== undefined) out.push(doc);
    }, { filename: file });
    return out;
}

async function checkSet(label, entries) {
    const errors = [];
    const docs = [];
    for (const { file, docs: list } of entries) {
        for (const [i, doc] of list.entries()) {
            const name = (doc && doc.metadata && doc.metadata.name) || "?";
            const where = `${file}#${i + 1} ${doc && doc.kind} ${name}`;
            errors.push(...(await schemaErrors(doc, where)));
            docs.push({ doc, where });
        }
    }
    const workloads = lsinitRules(docs.filter((d) => d.doc && d.doc.kind), errors);
    return { errors, docs: docs.length, workloads, label };
}

function report(res) {
    for (const e of res.errors) console.error(`  FAIL ${e}`);
    const verdict = res.errors.length ? `${res.errors.length} problem(s)` : "ok";
    console.log(`  ${res.label}: ${res.docs} document(s), ${res.workloads} workload(s): ${verdict}`);
    return res.errors.length === 0;
}

async function selftest(k8sFile, chart, followersFile, standbyFile) {
    // Each mutation must produce at least one finding; otherwise the checker is blind.
    const base = loadDocs(k8sFile);
    const target = base.findIndex((d) => d.kind === "StatefulSet" || d.kind === "Deployment");
    const cases = [
        ["a misspelled field (terminationGracePeriodSecond)", (w) => {
            w.spec.template.spec.terminationGracePeriodSecond = w.spec.template.spec.terminationGracePeriodSeconds;
            delete w.spec.template.spec.terminationGracePeriodSeconds;
        }],
        ["a misspelled nested field (readinessProbe.httpGet.pth)", (w) => {
            const g = w.spec.template.spec.containers[0].readinessProbe.httpGet;
            g.pth = g.path;
        }],
        ["a wrong type (containerPort as a string)", (w) => { w.spec.template.spec.containers[0].ports[0].containerPort = "http"; }],
        ["a wrong enum (imagePullPolicy: Sometimes)", (w) => { w.spec.template.spec.containers[0].imagePullPolicy = "Sometimes"; }],
        ["LSINIT_GRACE not below the window", (w) => {
            w.spec.template.spec.containers[0].env.find((e) => e.name === "LSINIT_GRACE").value = "59s";
        }],
        ["liveness on /healthz", (w) => { w.spec.template.spec.containers[0].livenessProbe.httpGet.path = "/healthz"; }],
        ["two replicas", (w) => { w.spec.replicas = 2; }],
        ["a writable root filesystem", (w) => { w.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false; }],
    ];
    let ok = true;
    for (const [name, mutate] of cases) {
        const docs = structuredClone(base);
        mutate(docs[target]);
        const res = await checkSet(name, [{ file: k8sFile, docs }]);
        const caught = res.errors.length > 0;
        console.log(`  ${caught ? "caught" : "MISSED"}: ${name}${caught ? ` -> ${res.errors[0]}` : ""}`);
        ok &&= caught;
    }
    // Followers: the writer's file and the followers' file, checked together.
    const pair = followersFile ? [...base, ...loadDocs(followersFile)] : [];
    for (const [name, mutate] of followersFile ? followerCases : []) {
        const docs = structuredClone(pair);
        mutate(docs);
        const res = await checkSet(name, [{ file: `${k8sFile}+${followersFile}`, docs }]);
        const caught = res.errors.length > 0;
        console.log(`  ${caught ? "caught" : "MISSED"}: ${name}${caught ? ` -> ${res.errors[0]}` : ""}`);
        ok &&= caught;
    }
    // The standby: the writer's file, the followers' and the standby's, together.
    const trio = standbyFile ? [...pair, ...loadDocs(standbyFile)] : [];
    for (const [name, mutate] of standbyFile ? standbyCases : []) {
        const docs = structuredClone(trio);
        mutate(docs);
        const res = await checkSet(name, [{ file: `${k8sFile}+${followersFile}+${standbyFile}`, docs }]);
        const caught = res.errors.length > 0;
        console.log(`  ${caught ? "caught" : "MISSED"}: ${name}${caught ? ` -> ${res.errors[0]}` : ""}`);
        ok &&= caught;
    }
    const validate = valuesValidator(chart);
    const values = readYaml(path.join(chart, "values.yaml"));
    const vcases = [
        ["values: a misspelled key (persistence.enable)", (v) => { v.persistence.enable = v.persistence.enabled; }],
        ["values: a wrong type (graceSeconds: \"50s\")", (v) => { v.lsinit.graceSeconds = "50s"; }],
        ["values: a wrong enum (accessModes: ReadWriteMany)", (v) => { v.persistence.accessModes = ["ReadWriteMany"]; }],
        ["values: grace not below the window", (v) => { v.lsinit.graceSeconds = v.terminationGracePeriodSeconds; }],
        ["values: followers.replicas -1", (v) => { v.followers.replicas = -1; }],
        ["values: followers.replicas \"two\"", (v) => { v.followers.replicas = "two"; }],
        ["values: followers.maxLag \"10 seconds\"", (v) => { v.followers.maxLag = "10 seconds"; }],
        ["values: standby.enabled \"yes\"", (v) => { v.standby.enabled = "yes"; }],
    ];
    for (const [name, mutate] of vcases) {
        const v = structuredClone(values);
        mutate(v);
        const errs = valuesErrors(validate, v, "values.yaml");
        console.log(`  ${errs.length ? "caught" : "MISSED"}: ${name}${errs.length ? ` -> ${errs[0]}` : ""}`);
        ok &&= errs.length > 0;
    }
    return ok;
}

async function main() {
    const [cmd, ...args] = process.argv.slice(2);
    if (cmd === "manifests") {
        const [label, ...files] = args;
        const entries = files.map((file) => ({ file, docs: loadDocs(file) }));
        return report(await checkSet(label, entries));
    }
    if (cmd === "followers") {
        const [label, n, lag, ...files] = args;
        const docs = [];
        for (const file of files) {
            for (const [i, doc] of loadDocs(file).entries()) {
                const name = (doc && doc.metadata && doc.metadata.name) || "?";
                docs.push({ doc, where: `${file}#${i + 1} ${doc && doc.kind} ${name}` });
            }
        }
        const errs = expectFollowers(docs.filter((d) => d.doc && d.doc.kind), Number(n), lag);
        for (const e of errs) console.error(`  FAIL ${e}`);
        const what = Number(n) ? `${n} follower(s), the read Service` : "no follower objects";
        console.log(`  ${label}: ${what}: ${errs.length ? `${errs.length} problem(s)` : "ok"}`);
        return errs.length === 0;
    }
    if (cmd === "standby") {
        const [label, n, ...files] = args;
        const docs = [];
        for (const file of files) {
            for (const [i, doc] of loadDocs(file).entries()) {
                const name = (doc && doc.metadata && doc.metadata.name) || "?";
                docs.push({ doc, where: `${file}#${i + 1} ${doc && doc.kind} ${name}` });
            }
        }
        const errs = expectStandby(docs.filter((d) => d.doc && d.doc.kind), Number(n));
        for (const e of errs) console.error(`  FAIL ${e}`);
        const what = Number(n) ? "a standby, the write and read Services" : "no standby";
        console.log(`  ${label}: ${what}: ${errs.length ? `${errs.length} problem(s)` : "ok"}`);
        return errs.length === 0;
    }
    if (cmd === "values") {
        const validate = valuesValidator(args[0]);
        let ok = true;
        for (const { where, values } of valueSets(args[0])) {
            const errs = valuesErrors(validate, values, where);
            for (const e of errs) console.error(`  FAIL ${e}`);
            console.log(`  ${where}: ${errs.length ? `${errs.length} problem(s)` : "ok"}`);
            ok &&= errs.length === 0;
        }
        return ok;
    }
    if (cmd === "selftest") return selftest(args[0], args[1], args[2], args[3]);
    console.error("usage: check.mjs manifests LABEL FILE... | followers LABEL N LAG FILE... | " +
        "standby LABEL N FILE... | values CHART | selftest K8S_FILE CHART [FOLLOWERS_FILE [STANDBY_FILE]]");
    return false;
}

main().then((ok) => process.exit(ok ? 0 : 1), (e) => {
    console.error(`check.mjs: ${e && e.stack ? e.stack : e}`);
    process.exit(1);
});
