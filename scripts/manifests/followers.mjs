// Read-only followers (LSINIT_ROLE=follower, docs/scaling.md): which workload
// of a set is one, their rules, and what a rendering must contain.
//
// A follower restores the database from the replica, keeps it current and runs
// the app against a read-only copy. It never writes to the replica and takes
// no lease, so it may run many replicas; it rebuilds from the replica on every
// start, so its data folder is an emptyDir. A standby (LSINIT_ROLE=standby) is
// a follower that takes over as the primary: standby.mjs. lsinit refuses any
// other role (exit 78).

// The one container that runs lsinit (it has LSINIT_DB), or undefined.
export function lsinitContainer(doc) {
    const pod = (doc.spec && doc.spec.template && doc.spec.template.spec) || {};
    const cs = (pod.containers || []).filter((c) => envValue(c, "LSINIT_DB") !== undefined);
    return cs.length === 1 ? cs[0] : undefined;
}

export function envValue(container, name) {
    const e = (container.env || []).find((x) => x && x.name === name);
    return e ? e.value : undefined;
}

// "primary" (LSINIT_ROLE unset, empty or primary), "follower", or what is set.
export function roleOf(doc) {
    const c = lsinitContainer(doc);
    const r = c ? envValue(c, "LSINIT_ROLE") : undefined;
    return r === undefined || r === null || r === "" ? "primary" : String(r);
}

export function matches(selector, labels) {
    return Object.entries(selector || {}).every(([k, v]) => labels[k] === v);
}

function podLabels(doc) {
    return (doc.spec && doc.spec.template && doc.spec.template.metadata && doc.spec.template.metadata.labels) || {};
}

// Each Service of the set with the workloads whose pods it selects, by role.
export function serviceTargets(docs) {
    const workloads = docs.filter((d) => ["StatefulSet", "Deployment"].includes(d.doc.kind));
    return docs.filter((d) => d.doc.kind === "Service").map((s) => {
        const sel = s.doc.spec && s.doc.spec.selector;
        const hit = sel && Object.keys(sel).length ? workloads.filter((w) => matches(sel, podLabels(w.doc))) : [];
        return {
            ...s,
            primaries: hit.filter((w) => roleOf(w.doc) === "primary"),
            followers: hit.filter((w) => roleOf(w.doc) === "follower"),
            standbys: hit.filter((w) => roleOf(w.doc) === "standby"),
        };
    });
}

// LSINIT_FOLLOW_MAX_LAG: at least 1s. LSINIT_FOLLOW_INTERVAL: 100ms to 1m.
const FOLLOW_LIMITS = {
    LSINIT_FOLLOW_MAX_LAG: [1, Infinity, "at least 1s"],
    LSINIT_FOLLOW_INTERVAL: [0.1, 60, "from 100ms to 1m"],
};

// LSINIT_FOLLOW_* of a follower or standby container c within lsinit's limits.
export function followLimits(c, cw, seconds, errors) {
    for (const [name, [min, max, text]] of Object.entries(FOLLOW_LIMITS)) {
        const v = envValue(c, name);
        if (v === undefined) continue;
        const s = seconds(v, NaN);
        if (Number.isNaN(s) || s < min || s > max) {
            errors.push(`${cw}: ${name}=${v} is not a duration ${text} (lsinit exits 78)`);
        }
    }
}

// The database's folder of a follower or standby: an emptyDir (the app's copy
// and lsinit's follow copy beside it), never a claim: it is rebuilt from the
// replica on every start. `who`: "a follower's", "a standby's".
export function emptyDirData(doc, c, cw, who, errors) {
    const pod = doc.spec.template.spec;
    const volumes = new Map((pod.volumes || []).map((v) => [v.name, v]));
    const db = String(envValue(c, "LSINIT_DB"));
    for (const m of c.volumeMounts || []) {
        const base = String(m.mountPath || "").replace(/\/$/, "");
        if (!db.split(",").some((p) => p.trim() === base || p.trim().startsWith(base + "/"))) continue;
        const vol = volumes.get(m.name);
        if (!(vol && vol.emptyDir)) {
            errors.push(`${cw}: ${who} database folder (${m.mountPath}) must be an emptyDir: ` +
                "it is rebuilt from the replica on every start");
        }
    }
}

// A follower or standby follows what a primary of the set writes.
export function sameReplica(c, cw, primaries, errors) {
    const url = envValue(c, "LSINIT_REPLICA_URL");
    const urls = primaries.map((p) => envValue(lsinitContainer(p.doc) || {}, "LSINIT_REPLICA_URL")).filter(Boolean);
    if (url && urls.length && !urls.includes(url)) {
        errors.push(`${cw}: LSINIT_REPLICA_URL ${url} is not the replica a primary here writes ` +
            `(${[...new Set(urls)].join(", ")})`);
    }
}

// The follower rules for one workload whose lsinit container is c; primaries
// are the set's primary workloads. `seconds` parses a Go/lsinit duration.
export function followerRules({ doc, where, c, cw, seconds, primaries }, errors) {
    const role = roleOf(doc);
    if (!["primary", "follower", "standby"].includes(role)) {
        errors.push(`${cw}: LSINIT_ROLE=${role}: lsinit runs primary, follower or standby (anything else: exit 78)`);
        return;
    }
    if (role !== "follower") return;
    if (doc.kind !== "Deployment") {
        errors.push(`${where}: followers are a Deployment (each rebuilds its copy from the replica on start), ` +
            `not a ${doc.kind}`);
    }
    followLimits(c, cw, seconds, errors);
    // Never a claim several followers would share.
    emptyDirData(doc, c, cw, "a follower's", errors);
    sameReplica(c, cw, primaries, errors);
}

// Rules across the set: a Service sends its traffic to writers or to
// followers, never both (a write landing on a follower fails: read-only). A
// standby may share a Service with either (standby.mjs).
export function serviceRoleRules(docs, errors) {
    for (const s of serviceTargets(docs)) {
        if (s.primaries.length && s.followers.length) {
            const names = (ws) => ws.map((w) => w.doc.metadata?.name).join(", ");
            errors.push(`${s.where}: selects the writer (${names(s.primaries)}) and followers ` +
                `(${names(s.followers)}): writes would reach read-only copies`);
        }
    }
}

// An HPA or a PodDisruptionBudget is fine on followers only.
export function followersOnly(doc, docs) {
    const workloads = docs.filter((d) => ["StatefulSet", "Deployment"].includes(d.doc.kind));
    const followers = workloads.filter((d) => roleOf(d.doc) === "follower");
    if (doc.kind === "HorizontalPodAutoscaler") {
        const ref = (doc.spec && doc.spec.scaleTargetRef) || {};
        return followers.some((f) => f.doc.kind === ref.kind && f.doc.metadata?.name === ref.name);
    }
    const sel = (doc.spec && doc.spec.selector && doc.spec.selector.matchLabels) || {};
    if (!Object.keys(sel).length) return false;
    const hit = workloads.filter((w) => matches(sel, podLabels(w.doc)));
    return hit.length > 0 && hit.every((w) => roleOf(w.doc) === "follower");
}

// What a rendering must hold: `replicas` 0 means no follower objects (no
// follower workload, no Service left selecting nothing); N means one follower
// Deployment with N replicas, LSINIT_ROLE=follower, readiness on /readyz, the
// database on an emptyDir, LSINIT_FOLLOW_MAX_LAG=maxLag (unless "-"), and a
// read Service selecting its pods and no writer.
export function expectFollowers(docs, replicas, maxLag) {
    const errors = [];
    const followers = docs.filter((d) => ["StatefulSet", "Deployment"].includes(d.doc.kind))
        .filter((d) => roleOf(d.doc) === "follower");
    const services = serviceTargets(docs);
    if (replicas === 0) {
        for (const f of followers) errors.push(`${f.where}: a follower workload, expected none`);
        for (const s of services) {
            if (!s.primaries.length && !s.followers.length) errors.push(`${s.where}: selects no workload of the set`);
        }
        return errors;
    }
    if (followers.length !== 1) return [`expected one follower workload, found ${followers.length}`];
    const { doc, where } = followers[0];
    const c = lsinitContainer(doc);
    if (doc.kind !== "Deployment") errors.push(`${where}: expected a Deployment`);
    if (doc.spec.replicas !== replicas) errors.push(`${where}: spec.replicas ${doc.spec.replicas}, expected ${replicas}`);
    const rp = (c.readinessProbe || {}).httpGet || {};
    if (rp.path !== "/readyz") errors.push(`${where}: readinessProbe httpGet ${rp.path}, expected /readyz`);
    const db = String(envValue(c, "LSINIT_DB"));
    const data = (c.volumeMounts || []).find((m) => db.startsWith(String(m.mountPath).replace(/\/$/, "") + "/"));
    const vol = data && (doc.spec.template.spec.volumes || []).find((v) => v.name === data.name);
    if (!(vol && vol.emptyDir)) errors.push(`${where}: the database folder is not an emptyDir`);
    if (maxLag !== "-" && envValue(c, "LSINIT_FOLLOW_MAX_LAG") !== maxLag) {
        errors.push(`${where}: LSINIT_FOLLOW_MAX_LAG ${envValue(c, "LSINIT_FOLLOW_MAX_LAG")}, expected ${maxLag}`);
    }
    const read = services.filter((s) => s.followers.some((f) => f.doc === doc) && !s.primaries.length);
    if (!read.length) errors.push(`${where}: no Service selects the followers only (the read Service)`);
    if (!services.some((s) => s.primaries.length && !s.followers.length)) errors.push("no Service selects the writer only");
    return errors;
}

// Self-test mutations of a set holding a writer and followers: each must be caught.
const follower = (docs) => docs.find((d) => d.kind === "Deployment" && roleOf(d) === "follower");
const fc = (docs) => lsinitContainer(follower(docs));
const setEnv = (c, name, value) => {
    const e = c.env.find((x) => x.name === name);
    if (e) e.value = value;
    else c.env.push({ name, value });
};
export const followerCases = [
    ["LSINIT_ROLE=leader (no such role)", (docs) => setEnv(fc(docs), "LSINIT_ROLE", "leader")],
    ["followers turned standby (two standbys)", (docs) => setEnv(fc(docs), "LSINIT_ROLE", "standby")],
    ["a follower without LSINIT_ROLE (a second writer)", (docs) => {
        fc(docs).env = fc(docs).env.filter((e) => e.name !== "LSINIT_ROLE");
    }],
    ["a read Service that also selects the writer", (docs) => {
        const labels = follower(docs).spec.template.metadata.labels;
        const read = docs.find((d) => d.kind === "Service" && d.spec.selector && matches(d.spec.selector, labels));
        // k8s/: the writer carries the same name label.
        read.spec.selector = { "app.kubernetes.io/name": labels["app.kubernetes.io/name"] };
    }],
    ["a follower on a PersistentVolumeClaim", (docs) => {
        const c = fc(docs);
        const m = c.volumeMounts.find((x) => envValue(c, "LSINIT_DB").startsWith(x.mountPath + "/"));
        const v = follower(docs).spec.template.spec.volumes.find((x) => x.name === m.name);
        delete v.emptyDir;
        v.persistentVolumeClaim = { claimName: "app-data" };
    }],
    ["a follower readiness probe on /healthz", (docs) => { fc(docs).readinessProbe.httpGet.path = "/healthz"; }],
    ["LSINIT_FOLLOW_MAX_LAG=500ms (below 1s)", (docs) => setEnv(fc(docs), "LSINIT_FOLLOW_MAX_LAG", "500ms")],
    ["a follower of another replica", (docs) => setEnv(fc(docs), "LSINIT_REPLICA_URL", "s3://other-bucket/app.db")],
];
