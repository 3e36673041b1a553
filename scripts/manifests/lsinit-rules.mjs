// lsinit's rules for the workloads of a set of Kubernetes documents (k8s/ or
// one rendering of the chart): see docs/kubernetes.md. Followers
// (LSINIT_ROLE=follower) and the standby (LSINIT_ROLE=standby) have rules of
// their own: followers.mjs, standby.mjs.
import { envValue, followerRules, followersOnly, matches, roleOf, serviceRoleRules } from "./followers.mjs";
import { standbyRules } from "./standby.mjs";

// ---------------------------------------------------------------- lsinit rules
function seconds(text, fallback) {
    if (text === undefined || text === null || text === "") return fallback;
    const s = String(text).trim();
    if (/^[0-9]+(\.[0-9]+)?$/.test(s)) return Number(s);
    const units = { ns: 1e-9, us: 1e-6, "µs": 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
    let total = 0;
    let rest = s;
    while (rest.length) {
        const m = rest.match(/^([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/);
        if (!m) return NaN;
        total += Number(m[1]) * units[m[2]];
        rest = rest.slice(m[0].length);
    }
    return total;
}

function isHook(doc) {
    return Boolean(doc.metadata && doc.metadata.annotations && doc.metadata.annotations["helm.sh/hook"]);
}

export function lsinitRules(docs, errors) {
    const secrets = docs.filter((d) => d.doc.kind === "Secret");
    const accounts = docs.filter((d) => d.doc.kind === "ServiceAccount");
    const services = docs.filter((d) => d.doc.kind === "Service");
    for (const { doc, where } of docs) {
        // Both are fine on followers (many replicas, no writes), never on the writer.
        if (["HorizontalPodAutoscaler", "PodDisruptionBudget"].includes(doc.kind) && followersOnly(doc, docs)) continue;
        if (doc.kind === "HorizontalPodAutoscaler") errors.push(`${where}: no autoscaler for a single SQLite writer`);
        if (doc.kind === "PodDisruptionBudget") {
            errors.push(`${where}: a PodDisruptionBudget on one replica blocks node drains or protects nothing`);
        }
    }
    for (const { doc, where } of docs.filter((d) => d.doc.kind === "Pod")) {
        const labels = (doc.metadata && doc.metadata.labels) || {};
        for (const { doc: svc } of services) {
            if (svc.spec && svc.spec.selector && matches(svc.spec.selector, labels)) {
                errors.push(`${where}: Service ${svc.metadata?.name} selects this pod (it would get the app's traffic)`);
            }
        }
    }
    const workloads = docs.filter((d) => ["StatefulSet", "Deployment"].includes(d.doc.kind) && !isHook(d.doc));
    const primaries = workloads.filter((w) => roleOf(w.doc) === "primary");
    serviceRoleRules(workloads.concat(services), errors);
    for (const { doc, where } of workloads) {
        const spec = doc.spec || {};
        const pod = (spec.template && spec.template.spec) || {};
        const podLabels = (spec.template && spec.template.metadata && spec.template.metadata.labels) || {};
        const containers = (pod.containers || []).filter((c) => envValue(c, "LSINIT_DB") !== undefined);
        if (containers.length !== 1) {
            errors.push(`${where}: expected exactly one container with LSINIT_DB, found ${containers.length}`);
            continue;
        }
        const c = containers[0];
        const cw = `${where} container ${c.name}`;
        // The writer: one replica, never two at once. Followers: followers.mjs.
        const primary = roleOf(doc) === "primary";
        if (primary && spec.replicas !== 1) {
            errors.push(`${where}: spec.replicas must be 1 (one SQLite writer), got ${spec.replicas}`);
        }
        if (primary && doc.kind === "Deployment" && !(spec.strategy && spec.strategy.type === "Recreate")) {
            errors.push(`${where}: a Deployment must use strategy.type Recreate (RollingUpdate overlaps two writers)`);
        }
        followerRules({ doc, where, c, cw, seconds, primaries }, errors);
        standbyRules({ doc, where, c, cw, seconds, primaries }, errors);
        const window = pod.terminationGracePeriodSeconds ?? 30;
        const grace = seconds(envValue(c, "LSINIT_GRACE"), 8);
        let preStop = 0;
        const hook = c.lifecycle && c.lifecycle.preStop;
        if (hook && hook.sleep) preStop = hook.sleep.seconds;
        else if (hook) errors.push(`${cw}: a preStop exec/httpGet hook has no known duration; use lifecycle.preStop.sleep`);
        if (Number.isNaN(grace)) {
            errors.push(`${cw}: LSINIT_GRACE=${envValue(c, "LSINIT_GRACE")} is not a duration`);
        } else if (!(window >= grace + preStop + 2)) {
            errors.push(`${cw}: terminationGracePeriodSeconds (${window}) must exceed LSINIT_GRACE (${grace}s)` +
                (preStop ? ` + preStop (${preStop}s)` : "") +
                ` by at least 2 s, or the kubelet's SIGKILL cuts the final sync`);
        }
        // Probes: /livez for liveness, /readyz for startup and readiness, never /healthz.
        const healthPort = Number(String(envValue(c, "LSINIT_HEALTH_ADDR") ?? "0.0.0.0:9091").split(":").pop());
        const portNumber = (p) => (typeof p === "number" ? p : ((c.ports || []).find((x) => x.name === p) || {}).containerPort);
        const want = { livenessProbe: "/livez", readinessProbe: "/readyz", startupProbe: "/readyz" };
        for (const [probe, p] of Object.entries(want)) {
            const pr = c[probe];
            if (!pr) {
                errors.push(`${cw}: ${probe} on ${p} is missing`);
                continue;
            }
            if (pr.httpGet) {
                if (pr.httpGet.path !== p) errors.push(`${cw}: ${probe} must ask ${p}, not ${pr.httpGet.path}`);
                if (portNumber(pr.httpGet.port) !== healthPort) {
                    errors.push(`${cw}: ${probe} port ${pr.httpGet.port} is not the health port ${healthPort}`);
                }
            } else if (pr.exec) {
                if (!(pr.exec.command || []).some((a) => String(a).endsWith(p))) errors.push(`${cw}: ${probe} must ask ${p}`);
            } else {
                errors.push(`${cw}: ${probe} must be an httpGet (or exec lsinit health) on ${p}`);
            }
        }
        if ((c.startupProbe || {}).failureThreshold * ((c.startupProbe || {}).periodSeconds || 10) < 300) {
            errors.push(`${cw}: the startupProbe allows less than 5 minutes; a restore can take longer`);
        }
        if (JSON.stringify([c.livenessProbe, c.readinessProbe, c.startupProbe]).includes("/healthz")) {
            errors.push(`${cw}: no probe may use /healthz (backup health: 503 on a failed verification)`);
        }
        // Security context: non-root, read-only root, no privilege escalation, no capabilities, seccomp.
        const sc = c.securityContext || {};
        const psc = pod.securityContext || {};
        if (!(sc.runAsNonRoot ?? psc.runAsNonRoot)) errors.push(`${cw}: runAsNonRoot must be true`);
        if ((sc.runAsUser ?? psc.runAsUser) === 0) errors.push(`${cw}: runAsUser must not be 0`);
        if (sc.readOnlyRootFilesystem !== true) errors.push(`${cw}: readOnlyRootFilesystem must be true`);
        if (sc.allowPrivilegeEscalation !== false) errors.push(`${cw}: allowPrivilegeEscalation must be false`);
        if (!((sc.capabilities || {}).drop || []).includes("ALL")) errors.push(`${cw}: capabilities.drop must include ALL`);
        if (((sc.seccompProfile || psc.seccompProfile) || {}).type !== "RuntimeDefault") {
            errors.push(`${cw}: seccompProfile must be RuntimeDefault`);
        }
        // Volumes: the database's folder, and a writable, size-limited /tmp.
        const volumes = new Map((pod.volumes || []).map((v) => [v.name, v]));
        const claims = new Map(((doc.kind === "StatefulSet" && spec.volumeClaimTemplates) || []).map((t) => [t.metadata?.name, t]));
        const mountFor = (p) => (c.volumeMounts || [])
            .filter((m) => m && typeof m.mountPath === "string")
            .filter((m) => p === m.mountPath || p.startsWith(m.mountPath.replace(/\/$/, "") + "/"))
            .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
        const db = envValue(c, "LSINIT_DB");
        for (const one of String(db).split(",")) {
            const m = mountFor(one.trim());
            if (!m) {
                errors.push(`${cw}: no volume is mounted over the database ${one} (the root filesystem is read-only)`);
                continue;
            }
            const claim = claims.get(m.name);
            const vol = volumes.get(m.name);
            const modes = claim ? (claim.spec || {}).accessModes || [] : [];
            if (modes.some((x) => x === "ReadWriteMany" || x === "ReadOnlyMany")) {
                errors.push(`${cw}: the database volume must be ReadWriteOnce or ReadWriteOncePod, not ${modes}`);
            }
            if (!claim && !(vol && (vol.emptyDir || vol.persistentVolumeClaim))) {
                errors.push(`${cw}: the database volume ${m.name} is neither a claim nor an emptyDir`);
            }
            if (vol && vol.emptyDir && !vol.emptyDir.sizeLimit) errors.push(`${cw}: emptyDir ${m.name} needs a sizeLimit`);
        }
        const verifyDir = envValue(c, "LSINIT_VERIFY_DIR") ?? "/tmp";
        const vm = mountFor(verifyDir);
        if (!vm) {
            errors.push(`${cw}: LSINIT_VERIFY_DIR ${verifyDir} is not on a mounted volume (read-only root filesystem)`);
        }
        const tmp = mountFor("/tmp");
        if (!tmp || !(volumes.get(tmp.name) || {}).emptyDir || !volumes.get(tmp.name).emptyDir.sizeLimit) {
            errors.push(`${cw}: /tmp must be an emptyDir with a sizeLimit`);
        }
        // References within the checked set.
        for (const e of c.env || []) {
            const ref = e.valueFrom && e.valueFrom.secretKeyRef;
            const s = ref && secrets.find((x) => x.doc.metadata?.name === ref.name);
            if (s) {
                const keys = Object.keys({ ...(s.doc.data || {}), ...(s.doc.stringData || {}) });
                if (!keys.includes(ref.key)) errors.push(`${cw}: Secret ${ref.name} has no key ${ref.key} (${e.name})`);
            }
        }
        const sa = pod.serviceAccountName;
        if (accounts.length && sa && !accounts.some((x) => x.doc.metadata?.name === sa)) {
            errors.push(`${where}: serviceAccountName ${sa} is not defined`);
        }
        const portNames = new Set((c.ports || []).map((p) => p.name));
        for (const { doc: svc, where: sw } of services) {
            if (!svc.spec || !svc.spec.selector || !matches(svc.spec.selector, podLabels)) continue;
            for (const p of svc.spec.ports || []) {
                if (typeof p.targetPort === "string" && !portNames.has(p.targetPort)) {
                    errors.push(`${sw}: targetPort ${p.targetPort} is not a port of ${where}`);
                }
            }
        }
        if ((primary || roleOf(doc) === "standby") && doc.kind === "StatefulSet" && services.length &&
            !services.some((s) => s.doc.metadata?.name === spec.serviceName && s.doc.spec?.clusterIP === "None")) {
            errors.push(`${where}: serviceName ${spec.serviceName} is not a headless Service of this set`);
        }
    }
    return workloads.length;
}

