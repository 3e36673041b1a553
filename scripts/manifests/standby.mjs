// The hot standby (LSINIT_ROLE=standby, docs/scaling.md): its rules, what a
// rendering must contain, and the self-test's breakage.
//
// A standby is a follower (a read-only copy, /readyz within
// LSINIT_FOLLOW_MAX_LAG) that watches the primary's lease (<replica
// path>/lock.json) and, once it is vacant, becomes the primary in place: it
// takes the lease, replicates and restarts the app with LSINIT_ROLE=primary.
// So: one replica (after a takeover it is the writer), an emptyDir (every
// start is a standby again that rebuilds its copy), the primary's replica, a
// replica that can hold a lease (s3:// with access keys, or file://;
// LSINIT_LEASE not off on either side) and the primary's LSINIT_LEASE_TTL.
import { emptyDirData, envValue, followLimits, lsinitContainer, matches, roleOf, sameReplica, serviceTargets }
    from "./followers.mjs";

const KEYS = ["LITESTREAM_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"];

// The standby rules for one workload whose lsinit container is c; primaries
// are the set's primary workloads. `seconds` parses a Go/lsinit duration.
export function standbyRules({ doc, where, c, cw, seconds, primaries }, errors) {
    if (roleOf(doc) !== "standby") return;
    if (doc.spec.replicas !== 1) {
        errors.push(`${where}: a standby runs 1 replica (after a takeover it is the one writer), got ${doc.spec.replicas}`);
    }
    followLimits(c, cw, seconds, errors);
    emptyDirData(doc, c, cw, "a standby's", errors);
    sameReplica(c, cw, primaries, errors);
    // The lease it watches and takes over.
    const url = envValue(c, "LSINIT_REPLICA_URL");
    if (url && !/^(s3|file):\/\//.test(url)) {
        errors.push(`${cw}: LSINIT_REPLICA_URL ${url}: only s3:// and file:// replicas hold a lease, ` +
            "which a standby needs (lsinit exits 78)");
    }
    const keyed = (x) => KEYS.some((k) => (x.env || []).some((e) => e && e.name === k)) || (x.envFrom || []).length > 0;
    if (url && url.startsWith("s3://") && !keyed(c)) {
        errors.push(`${cw}: no access key (${KEYS.join(" or ")}, or envFrom): keyless credentials cannot sign ` +
            "the lease a standby needs");
    }
    const same = primaries.filter((p) => {
        const pu = envValue(lsinitContainer(p.doc) || {}, "LSINIT_REPLICA_URL");
        return !url || !pu || pu === url;
    });
    for (const x of [{ c, w: cw }, ...same.map((p) => ({ c: lsinitContainer(p.doc) || {}, w: p.where }))]) {
        if (String(envValue(x.c, "LSINIT_LEASE") ?? "").toLowerCase() === "off") {
            errors.push(`${x.w}: LSINIT_LEASE=off beside a standby: it takes over when the primary's lease ` +
                "expires, so both need one (lsinit refuses the standby, 78)");
        }
    }
    const ttl = (x) => seconds(envValue(x, "LSINIT_LEASE_TTL"), 30);
    const mine = ttl(c);
    for (const p of same) {
        const theirs = ttl(lsinitContainer(p.doc) || {});
        if (mine !== theirs) {
            errors.push(`${cw}: LSINIT_LEASE_TTL ${mine}s is not the primary's (${theirs}s, ${p.where}): a standby ` +
                "judges the primary's lease stale by its own TTL");
        }
    }
}

// What a rendering must hold: `n` 0 means no standby workload; 1 means one
// standby (1 replica, LSINIT_ROLE=standby, readiness on /readyz, the database
// on an emptyDir), a Service selecting it and a writer and no follower (the
// write Service), the writer's own Service (selecting no standby) still there,
// and every Service that selects followers (the read Service) selecting the
// standby too.
export function expectStandby(docs, n) {
    const errors = [];
    const standbys = docs.filter((d) => ["StatefulSet", "Deployment"].includes(d.doc.kind))
        .filter((d) => roleOf(d.doc) === "standby");
    if (n === 0) {
        for (const s of standbys) errors.push(`${s.where}: a standby workload, expected none`);
        return errors;
    }
    if (standbys.length !== n) return [`expected ${n} standby workload(s), found ${standbys.length}`];
    const { doc, where } = standbys[0];
    const c = lsinitContainer(doc);
    if (doc.spec.replicas !== 1) errors.push(`${where}: spec.replicas ${doc.spec.replicas}, expected 1`);
    if (envValue(c, "LSINIT_ROLE") !== "standby") errors.push(`${where}: LSINIT_ROLE is not standby`);
    const rp = (c.readinessProbe || {}).httpGet || {};
    if (rp.path !== "/readyz") errors.push(`${where}: readinessProbe httpGet ${rp.path}, expected /readyz`);
    const db = String(envValue(c, "LSINIT_DB"));
    const data = (c.volumeMounts || []).find((m) => db.startsWith(String(m.mountPath).replace(/\/$/, "") + "/"));
    const vol = data && (doc.spec.template.spec.volumes || []).find((v) => v.name === data.name);
    if (!(vol && vol.emptyDir)) errors.push(`${where}: the database folder is not an emptyDir`);
    if (doc.kind === "StatefulSet" && (doc.spec.volumeClaimTemplates || []).length) {
        errors.push(`${where}: volumeClaimTemplates on a standby`);
    }
    const services = serviceTargets(docs);
    const mine = (s) => s.standbys.some((x) => x.doc === doc);
    if (!services.some((s) => mine(s) && s.primaries.length && !s.followers.length)) {
        errors.push(`${where}: no Service selects the writer and the standby (the failover write Service)`);
    }
    if (!services.some((s) => s.primaries.length && !s.standbys.length && !s.followers.length)) {
        errors.push("no Service selects the writer only (where a standby sends writes while standing by)");
    }
    for (const s of services.filter((x) => x.followers.length && !mine(x))) {
        errors.push(`${s.where}: selects the followers but not the standby (it serves reads while standing by)`);
    }
    return errors;
}

// Self-test mutations of a set holding a writer and a standby: each must be caught.
const standby = (docs) => docs.find((d) => ["StatefulSet", "Deployment"].includes(d.kind) && roleOf(d) === "standby");
const sc = (docs) => lsinitContainer(standby(docs));
const writer = (docs) => docs.find((d) => ["StatefulSet", "Deployment"].includes(d.kind) && roleOf(d) === "primary");
const setEnv = (c, name, value) => {
    const e = c.env.find((x) => x.name === name);
    if (e) e.value = value;
    else c.env.push({ name, value });
};
export const standbyCases = [
    ["two standby replicas", (docs) => { standby(docs).spec.replicas = 2; }],
    ["a standby on a PersistentVolumeClaim", (docs) => {
        const c = sc(docs);
        const m = c.volumeMounts.find((x) => envValue(c, "LSINIT_DB").startsWith(x.mountPath + "/"));
        const v = standby(docs).spec.template.spec.volumes.find((x) => x.name === m.name);
        delete v.emptyDir;
        v.persistentVolumeClaim = { claimName: "app-standby-data" };
    }],
    ["a standby of another replica", (docs) => setEnv(sc(docs), "LSINIT_REPLICA_URL", "s3://other-bucket/app.db")],
    ["a standby with another LSINIT_LEASE_TTL than the writer", (docs) => setEnv(sc(docs), "LSINIT_LEASE_TTL", "10s")],
    ["a writer with LSINIT_LEASE=off beside a standby", (docs) => {
        setEnv(lsinitContainer(writer(docs)), "LSINIT_LEASE", "off");
    }],
    ["a standby on a gs:// replica (no lease)", (docs) => {
        for (const d of docs.filter((x) => ["StatefulSet", "Deployment"].includes(x.kind))) {
            setEnv(lsinitContainer(d), "LSINIT_REPLICA_URL", "gs://my-bucket/app/app.db");
        }
    }],
    ["a keyless standby on s3:// (cannot sign the lease)", (docs) => {
        sc(docs).env = sc(docs).env.filter((e) => !/ACCESS_KEY/.test(e.name));
    }],
    ["a standby readiness probe on /healthz", (docs) => { sc(docs).readinessProbe.httpGet.path = "/healthz"; }],
    ["a write Service that also selects the followers", (docs) => {
        const labels = standby(docs).spec.template.metadata.labels;
        const write = docs.find((d) => d.kind === "Service" && d.spec.selector &&
            matches(d.spec.selector, labels) && "lsinit-writer-candidate" in d.spec.selector);
        write.spec.selector = { "app.kubernetes.io/name": labels["app.kubernetes.io/name"] };
    }],
];
