"""Checks fly/fly.toml for scripts/check-manifests (stdlib only: tomllib)."""
import difflib
import re
import shlex
import sys
import tomllib

TOP = {"app", "primary_region", "kill_signal", "kill_timeout", "swap_size_mb", "console_command",
       "experimental", "build", "deploy", "env", "processes", "mounts", "http_service", "services",
       "checks", "files", "host_dedication_id", "machine_checks", "restart", "vm", "statics", "metrics"}
CHECK = {"port", "type", "interval", "timeout", "grace_period", "method", "path", "protocol",
         "tls_skip_verify", "tls_server_name", "headers", "processes"}
MOUNT = {"source", "destination", "initial_size", "snapshot_retention", "auto_extend_size_threshold",
         "auto_extend_size_increment", "auto_extend_size_limit", "processes"}
DEPLOY = {"strategy", "max_unavailable", "wait_timeout", "release_command", "release_command_timeout",
          "release_command_vm", "seed_command"}
HTTP_SERVICE = {"internal_port", "force_https", "auto_stop_machines", "auto_start_machines",
                "min_machines_running", "processes", "concurrency", "tls_options", "http_options",
                "checks", "machine_checks"}
SERVICE = {"internal_port", "protocol", "processes", "auto_stop_machines", "auto_start_machines",
           "min_machines_running", "ports", "concurrency", "tcp_checks", "http_checks", "machine_checks"}
PORT = {"port", "start_port", "end_port", "handlers", "force_https", "tls_options", "http_options",
        "proxy_proto_options"}
ROLES = ("primary", "follower", "standby")
UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def seconds(value):
    """Fly and lsinit durations: an integer (seconds) or Go's 1m30s."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        return float(text)
    parts = re.findall(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(value)
    return sum(float(n) * UNITS[u] for n, u in parts)


def role_of(command, env):
    """LSINIT_ROLE of a process group: lsinit's --role before `--` wins over [env]."""
    words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command or []]
    role = env.get("LSINIT_ROLE") or "primary"
    for i, w in enumerate(words):
        if w == "--":
            break
        if w == "--role" and i + 1 < len(words):
            role = words[i + 1]
        elif w.startswith("--role="):
            role = w.split("=", 1)[1]
    return role


def main(path):
    errors = []
    try:
        with open(path, "rb") as f:
            cfg = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        print(f"  FAIL {path}: not valid TOML: {e}", file=sys.stderr)
        return 1

    def unknown(table, known, where):
        for key in table:
            if key not in known:
                hint = difflib.get_close_matches(key, sorted(known), n=1)
                errors.append(f"{where}{key}: unknown key" + (f" (did you mean {hint[0]}?)" if hint else ""))

    unknown(cfg, TOP, "")
    env = cfg.get("env", {})
    sig = cfg.get("kill_signal", "SIGINT")
    if sig not in ("SIGINT", "SIGTERM"):
        errors.append(f"kill_signal {sig!r}: lsinit's graceful stop starts on SIGINT or SIGTERM")
    try:
        window = seconds(cfg.get("kill_timeout", 5))
        grace = seconds(env.get("LSINIT_GRACE", "8s"))
        if not window >= grace + 2:
            errors.append(f"kill_timeout ({window:g}s) must exceed LSINIT_GRACE ({grace:g}s) by at least 2 s, "
                          "or Fly kills lsinit before the final sync ends")
        if window > 300:
            errors.append(f"kill_timeout ({window:g}s): shared-CPU Machines allow at most 300 s")
    except ValueError as e:
        errors.append(f"kill_timeout / LSINIT_GRACE: not a duration: {e}")

    strategy = cfg.get("deploy", {}).get("strategy", "rolling")
    unknown(cfg.get("deploy", {}), DEPLOY, "deploy.")
    if strategy not in ("rolling", "immediate"):
        errors.append(f"deploy.strategy {strategy!r} starts a second Machine next to the first: two writers")

    # Process groups: each group's role (lsinit's --role in its command, else
    # LSINIT_ROLE in [env]); without [processes] the one group "app" runs the
    # image's CMD.
    processes = cfg.get("processes")
    if processes is None:
        groups = {"app": role_of(None, env)}
    elif not isinstance(processes, dict) or not processes:
        errors.append("[processes] must map group names to commands")
        groups = {"app": role_of(None, env)}
    else:
        groups = {name: role_of(cmd, env) for name, cmd in processes.items()}
    for name, role in groups.items():
        if role not in ROLES:
            errors.append(f"processes.{name}: --role {role}: lsinit runs primary, follower or standby (else exit 78)")
        elif name in ROLES and role != name:
            errors.append(f"processes.{name}: its command runs --role {role}, not --role {name}")
    primaries = {g for g, r in groups.items() if r == "primary"}
    followers = {g for g, r in groups.items() if r == "follower"}
    standbys = {g for g, r in groups.items() if r == "standby"}
    if not primaries:
        errors.append("no process group runs the writer (--role primary, or no --role)")

    def scope(table, where):
        """The groups a table with an optional `processes` list applies to."""
        names = table.get("processes")
        if names is None:
            return set(groups)
        unknown_groups = [n for n in names if n not in groups]
        if unknown_groups:
            errors.append(f"{where}.processes: no process group {', '.join(unknown_groups)}")
        return set(names) & set(groups)

    db = env.get("LSINIT_DB")
    mounts = cfg.get("mounts", [])
    mounts = [mounts] if isinstance(mounts, dict) else mounts
    for i, m in enumerate(mounts):
        unknown(m, MOUNT, f"mounts[{i}].")
    if not db:
        errors.append("env.LSINIT_DB is not set")
    elif not standbys:  # with a standby the writer has no volume (below)
        for g in sorted(primaries):
            if not any(db.startswith(m.get("destination", "").rstrip("/") + "/") and g in scope(m, "mounts")
                       for m in mounts):
                errors.append(f"LSINIT_DB {db} is not on a [mounts] volume of the writer's group {g}")
    for i, m in enumerate(mounts):
        extra = sorted(scope(m, f"mounts[{i}]") & (followers | standbys))
        if extra:
            errors.append(f"mounts[{i}] covers {', '.join(extra)}: Fly volumes are per Machine, so each one would "
                          "need a volume of its own, and a follower or standby rebuilds its copy from the replica "
                          "on every start anyway; limit it with processes = [the writer's group]")
    if standbys and any(scope(m, f"mounts[{i}]") & primaries for i, m in enumerate(mounts)):
        errors.append(f"a standby group ({', '.join(sorted(standbys))}) beside a writer with a volume: every stop "
                      "of the writer hands its lease to the standby, and a writer that gets it back later restores "
                      "only a missing database, so it would replicate a copy older than what the standby wrote")

    health = str(env.get("LSINIT_HEALTH_ADDR", "0.0.0.0:9091"))
    port = int(health.rsplit(":", 1)[1])
    checks = cfg.get("checks", {})
    for name, chk in checks.items():
        unknown(chk, CHECK, f"checks.{name}.")
        if chk.get("type") not in ("http", "tcp"):
            errors.append(f"checks.{name}.type must be http or tcp")
    for g in sorted(groups):
        paths = {c.get("path") for n, c in checks.items()
                 if c.get("type") == "http" and c.get("port") == port and g in scope(c, f"checks.{n}")}
        if "/readyz" not in paths:
            errors.append(f"no http check on /readyz at port {port} (LSINIT_HEALTH_ADDR) for the {groups[g]} "
                          f"group {g}")
        if g in primaries and "/healthz" not in paths:
            errors.append(f"no http check on /healthz at port {port} for the writer's group {g}: backup health "
                          "is not monitored")

    # Services: which groups each one routes to, on which external ports.
    svc = cfg.get("http_service")
    services = []
    for i, s in enumerate(cfg.get("services", [])):
        unknown(s, SERVICE, f"services[{i}].")
        ports = set()
        for j, p in enumerate(s.get("ports", [])):
            unknown(p, PORT, f"services[{i}].ports[{j}].")
            if "port" in p:
                ports.add(p["port"])
            elif "start_port" in p:
                ports.update(range(p["start_port"], p.get("end_port", p["start_port"]) + 1))
        if not ports:
            errors.append(f"services[{i}] has no [[services.ports]] entry")
        services.append({"where": f"services[{i}]", "groups": scope(s, f"services[{i}]"), "ports": ports,
                         "checks": s.get("http_checks", []) + s.get("tcp_checks", []),
                         "auto_stop_machines": s.get("auto_stop_machines")})
    if svc is not None:
        unknown(svc, HTTP_SERVICE, "http_service.")
        services.append({"where": "http_service", "groups": scope(svc, "http_service"), "ports": {80, 443},
                         "checks": svc.get("checks", []), "auto_stop_machines": svc.get("auto_stop_machines")})
    for s in services:
        for c in s["checks"]:
            if c.get("path") == "/healthz":
                errors.append(f"{s['where']}: a service check on /healthz takes the only writer out of routing on "
                              "a backup problem; check backup health in top-level [checks]")
        if s["groups"] & primaries and s["groups"] & followers:
            errors.append(f"{s['where']} routes to the writer ({', '.join(sorted(s['groups'] & primaries))}) and "
                          f"followers ({', '.join(sorted(s['groups'] & followers))}): writes would reach "
                          "read-only copies")
        if s["groups"] & primaries and s["auto_stop_machines"] not in (None, False, "off"):
            errors.append(f"{s['where']}.auto_stop_machines must be \"off\": the proxy cannot see verification "
                          "or uploads, and no verification runs while the Machine is stopped")
    for i, a in enumerate(services):
        for b in services[i + 1:]:
            shared = a["ports"] & b["ports"]
            if shared and a["groups"] != b["groups"]:
                errors.append(f"{a['where']} and {b['where']} share port(s) {', '.join(map(str, sorted(shared)))}: "
                              "Fly Proxy balances a port across every Machine that has it, whatever its group")
    metrics = cfg.get("metrics")
    if isinstance(metrics, dict) and metrics.get("port") not in (None, port):
        errors.append(f"[metrics] port {metrics.get('port')} is not lsinit's health port {port}")

    for e in errors:
        print(f"  FAIL {path}: {e}", file=sys.stderr)
    verdict = f"{len(errors)} problem(s)" if errors else "ok"
    roles = ", ".join(f"{g}={r}" for g, r in sorted(groups.items()))
    print(f"  {path}: kill_signal {sig}, kill_timeout {cfg.get('kill_timeout')}, "
          f"LSINIT_GRACE {env.get('LSINIT_GRACE', '8s (default)')}, groups {roles}: {verdict}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
