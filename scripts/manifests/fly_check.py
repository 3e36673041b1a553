"""Checks fly/fly.toml for scripts/check-manifests (stdlib only: tomllib)."""
import difflib
import re
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

    db = env.get("LSINIT_DB")
    mounts = cfg.get("mounts", [])
    mounts = [mounts] if isinstance(mounts, dict) else mounts
    for i, m in enumerate(mounts):
        unknown(m, MOUNT, f"mounts[{i}].")
    if not db:
        errors.append("env.LSINIT_DB is not set")
    elif not any(db.startswith(m.get("destination", "").rstrip("/") + "/") for m in mounts):
        errors.append(f"LSINIT_DB {db} is not on a [mounts] volume")

    health = str(env.get("LSINIT_HEALTH_ADDR", "0.0.0.0:9091"))
    port = int(health.rsplit(":", 1)[1])
    checks = cfg.get("checks", {})
    for name, chk in checks.items():
        unknown(chk, CHECK, f"checks.{name}.")
        if chk.get("type") not in ("http", "tcp"):
            errors.append(f"checks.{name}.type must be http or tcp")
    paths = {c.get("path"): c for c in checks.values() if c.get("type") == "http" and c.get("port") == port}
    if "/readyz" not in paths:
        errors.append(f"no http check on /readyz at port {port} (LSINIT_HEALTH_ADDR)")
    if "/healthz" not in paths:
        errors.append(f"no http check on /healthz at port {port}: backup health is not monitored")

    svc = cfg.get("http_service")
    services = list(cfg.get("services", []))
    if svc is not None:
        unknown(svc, HTTP_SERVICE, "http_service.")
        services.append({"internal_port": svc.get("internal_port"), "http_checks": svc.get("checks", []),
                         "auto_stop_machines": svc.get("auto_stop_machines")})
        if svc.get("auto_stop_machines", False) not in (False, "off"):
            errors.append("http_service.auto_stop_machines must be \"off\": the proxy cannot see verification or "
                          "uploads, and no verification runs while the Machine is stopped")
    for s in services:
        for c in s.get("http_checks", []) + s.get("tcp_checks", []):
            if c.get("path") == "/healthz":
                errors.append("a service check on /healthz takes the only writer out of routing on a backup "
                              "problem; check backup health in top-level [checks]")
    metrics = cfg.get("metrics")
    if isinstance(metrics, dict) and metrics.get("port") not in (None, port):
        errors.append(f"[metrics] port {metrics.get('port')} is not lsinit's health port {port}")

    for e in errors:
        print(f"  FAIL {path}: {e}", file=sys.stderr)
    verdict = f"{len(errors)} problem(s)" if errors else "ok"
    print(f"  {path}: kill_signal {sig}, kill_timeout {cfg.get('kill_timeout')}, "
          f"LSINIT_GRACE {env.get('LSINIT_GRACE', '8s (default)')}: {verdict}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
