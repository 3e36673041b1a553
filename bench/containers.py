"""Part D, containers (podman + runc, one image pair per Litestream
version, built with scripts/container-build when missing): D12 image size,
D13 container start → first request of the Python example app, lsinit vs the
official shell entrypoint, with the database present and restored from S3
(fauxqs, run as the integration tests run it).
"""
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zlib

from . import settings as S
from .markdown import f, fragment, ratio, table
from .runner import CLEANUP, die, free_port, http_get, is05, log, ls_env, st, wait_for


def podman(*args, timeout=120):
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def containers_available(rebuild=False):
    """None when podman and the images are there (built here if missing, or
    always with rebuild), else why not. Returns (why, seconds spent building)."""
    if shutil.which("podman") is None or shutil.which("runc") is None:
        return "podman or runc is not installed (scripts/container-build installs them)", 0.0
    build = os.path.join(S.ROOT, "scripts", "container-build")
    t0 = time.monotonic()
    for v in S.LS_VERSIONS:
        missing = [img for img in (S.IMAGES[v], S.PYTHON_IMAGES[v]) if podman("image", "exists", img).returncode != 0]
        if (missing or rebuild) and os.access(build, os.X_OK):
            log(f"scripts/container-build --litestream {v} --tag {S.IMAGE_TAGS[v]}"
                + (f" ({', '.join(missing)} missing)" if missing else ""))
            r = subprocess.run([build, "--litestream", v, "--tag", S.IMAGE_TAGS[v]], timeout=3600,
                               capture_output=True, text=True)
            if r.returncode != 0:
                log(f"scripts/container-build failed for {v}: {r.stderr[-1500:]}")
        missing = [img for img in (S.IMAGES[v], S.PYTHON_IMAGES[v]) if podman("image", "exists", img).returncode != 0]
        if missing:
            return (f"image(s) {', '.join(missing)} not built (run scripts/container-build --litestream {v} "
                    f"--tag {S.IMAGE_TAGS[v]})"), time.monotonic() - t0
    return None, time.monotonic() - t0


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run_image_size(work):
    return {v: run_image_size_version(work, v) for v in S.LS_VERSIONS}


def run_image_size_version(work, v):
    d = os.path.join(work, f"d12-{v}")
    os.makedirs(d)
    out = {}
    image, pyimage = S.IMAGES[v], S.PYTHON_IMAGES[v]
    for img, key in ((image, "image"), (pyimage, "python")):
        r = podman("image", "inspect", img, "--format", "{{.Size}}|{{.Id}}|{{.Created}}")
        size, iid, created = r.stdout.strip().split("|", 2)
        out[key] = {"size": int(size), "id": iid[:12], "created": created}
    name = f"lsinit-bench-cp-{os.getpid()}"
    r = podman("create", "--name", name, image)
    if r.returncode != 0:
        die(f"podman create {image}: {r.stderr}")
    files = {}
    try:
        for key, path in [("lsinit", "/lsinit"), ("litestream", "/usr/local/bin/litestream"),
                          ("ca", "/etc/ssl/certs/ca-certificates.crt")]:
            dst = os.path.join(d, key)
            r = podman("cp", f"{name}:{path}", dst)
            if r.returncode != 0:
                die(f"podman cp {path}: {r.stderr}")
            files[key] = {"bytes": os.stat(dst).st_size, "sha256": sha256_file(dst)}
    finally:
        podman("rm", "-f", name)
    out["files"] = files
    out["same_lsinit"] = files["lsinit"]["sha256"] == sha256_file(S.LSINIT)
    out["same_litestream"] = files["litestream"]["sha256"] == sha256_file(os.path.realpath(S.LS_BINS[v]))
    out["local_lsinit"] = os.stat(S.LSINIT).st_size
    out["local_litestream"] = os.stat(os.path.realpath(S.LS_BINS[v])).st_size
    # What a registry would transfer, roughly: the image saved and gzipped.
    tar = os.path.join(d, "image.tar")
    r = podman("save", "--format", "docker-archive", "-o", tar, image, timeout=300)
    if r.returncode == 0:
        raw = os.stat(tar).st_size
        gz = 0
        co = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip -6
        with open(tar, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                gz += len(co.compress(chunk))
        gz += len(co.flush())
        out["saved"], out["gzip"] = raw, gz
        os.unlink(tar)
    # Layers of the python example: what lsinit's two COPY lines add to it.
    r = podman("history", "--format", "json", pyimage)
    try:
        out["python_layers"] = [{"size": h.get("size", 0), "by": h.get("created_by", h.get("CreatedBy", ""))}
                                for h in json.loads(r.stdout)]
    except (ValueError, TypeError):
        out["python_layers"] = []
    return out


SHELL_ENTRY = ('litestream restore -if-db-not-exists -if-replica-exists /data/app.db && '
               'exec litestream replicate -exec "python3 /app/app.py"')


def seed_app_db(path):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, created REAL NOT NULL)")
    db.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
               "INSERT INTO items(body, created) SELECT hex(randomblob(250)), strftime('%s', 'now') FROM c", (S.APP_ITEMS,))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def run_container_start(work):
    """Container start -> first GET /items served, python example app."""
    d = os.path.join(work, "d13")
    os.makedirs(d)
    sys.path.insert(0, S.TESTS)
    try:
        from support.servers import FauxqsServer  # noqa: E402 (the tests' fauxqs runner)
    except Exception as e:  # pragma: no cover
        return {"skipped": f"cannot import tests/support/servers.py: {e}"}
    fx = FauxqsServer(os.path.join(d, "fauxqs"))
    try:
        fx.start()
    except Exception as e:
        return {"skipped": f"fauxqs did not start: {e}"}
    try:
        return _container_start_runs(d, fx)
    finally:
        try:
            fx.stop()
        except Exception:
            pass


def _seed_bucket(d, fx, v, seed):
    """A bucket with the seed database replicated by Litestream v (each
    version its own layout); returns what a run needs to reset it."""
    bucket = fx.new_bucket(f"bench-{v.replace('.', '-')}")
    seed_conf = os.path.join(d, f"seed-{v}.yml")
    s3 = {"type": "s3", "bucket": bucket, "path": "app.db", "endpoint": fx.endpoint, "region": "us-east-1",
          "force-path-style": "true"}
    if is05(v):
        replica_yaml = "    replica:\n" + "".join(f"      {k}: {x}\n" for k, x in s3.items())
    else:
        replica_yaml = "    replicas:\n" + "".join(f"      {'-' if i == 0 else ' '} {k}: {x}\n"
                                                    for i, (k, x) in enumerate(s3.items()))
    with open(seed_conf, "w") as fh:
        fh.write(f"dbs:\n  - path: {seed}\n{replica_yaml}")
    for name in os.listdir(d):  # no local Litestream state of the other version's seeding
        if name.startswith(".seed.db-litestream"):
            shutil.rmtree(os.path.join(d, name))
    env = dict(ls_env(v), **fx.aws_env)
    p = subprocess.Popen([S.LS_BINS[v], "replicate", "-config", seed_conf], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    CLEANUP.append(lambda: (p.kill(), p.wait()) if p.poll() is None else None)

    def seeded():
        keys = fx.list_keys(bucket, "app.db/")
        if is05(v):  # S3 layout: PATH/LEVEL (4 hex digits)/MINTXID-MAXTXID.ltx
            ok = any("/0000/" in k for k in keys) and any("/0009/" in k for k in keys)
        else:
            ok = any(k.endswith(".snapshot.lz4") for k in keys) and any("/wal/" in k for k in keys)
        return keys if ok else None
    wait_for(seeded, 60, f"the seed replica in fauxqs ({v}; a file over 5 MiB needs a multipart upload, which "
                         "fauxqs 2.4.1 rejects)")
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)
    keys = fx.list_keys(bucket, "app.db/")
    objects = {k: fx.get_object(bucket, k) for k in keys}
    if is05(v):
        snap = max((k for k in keys if "/0009/" in k), key=lambda k: len(objects[k]))
    else:
        snap = [k for k in keys if k.endswith(".snapshot.lz4")][0]
    ls_conf = os.path.join(d, f"litestream-{v}.yml")
    with open(ls_conf, "w") as fh:
        fh.write(f"dbs:\n  - path: /data/app.db\n{replica_yaml}")
    os.chmod(ls_conf, 0o644)
    return {"bucket": bucket, "objects": objects, "snapshot_bytes": len(objects[snap]), "ls_conf": ls_conf,
            "keys": len(keys)}


def _container_start_runs(d, fx):
    seed = os.path.join(d, "seed.db")
    seed_app_db(seed)
    seeds = {v: _seed_bucket(d, fx, v, seed) for v in S.LS_VERSIONS}
    data = os.path.join(d, "data")
    common_env = {"HOST": "127.0.0.1", "LITESTREAM_ACCESS_KEY_ID": fx.access_key_id,
                  "LITESTREAM_SECRET_ACCESS_KEY": fx.secret_access_key}

    def argv_for(v, variant, name, port):
        a = ["create", "--name", name] + S.PODMAN_RUN_OPTS + ["-v", f"{data}:/data", "-e", f"PORT={port}"]
        for k, x in common_env.items():
            a += ["-e", f"{k}={x}"]
        if variant == "lsinit":
            a += ["-e", f"LSINIT_REPLICA_URL=s3://{seeds[v]['bucket']}/app.db",
                  "-e", f"LITESTREAM_REPLICA_ENDPOINT={fx.endpoint}", "-e", "LSINIT_LEASE=off",
                  "-e", f"LSINIT_HEALTH_ADDR=127.0.0.1:{free_port()}", S.PYTHON_IMAGES[v]]
        elif variant == "shell":
            a += ["-v", f"{seeds[v]['ls_conf']}:/etc/litestream.yml:ro", "--entrypoint", "/bin/sh", S.PYTHON_IMAGES[v],
                  "-c", SHELL_ENTRY]
        else:  # the app alone, no Litestream: the floor
            a += ["--entrypoint", "python3", S.PYTHON_IMAGES[v], "/app/app.py"]
        return a

    def reset_bucket(v):
        """Back to the seed's objects: every restore restores the same thing."""
        sd = seeds[v]
        extra = [k for k in fx.list_keys(sd["bucket"], "app.db/") if k not in sd["objects"]]
        for k in extra:
            fx.delete_object(sd["bucket"], k)
        if extra and is05(v):  # 0.5 names files by TXID: an upload may have replaced a seed file
            for k, data_ in sd["objects"].items():
                fx.put_object(sd["bucket"], k, data_)

    def one(v, variant, present):
        shutil.rmtree(data, ignore_errors=True)
        os.makedirs(data)
        if present:
            shutil.copy(seed, os.path.join(data, "app.db"))
        for path in [data] + [os.path.join(data, n) for n in os.listdir(data)]:
            os.chown(path, 65532, 65532)
        port = free_port()
        name = f"lsinit-bench-{variant}-{port}"
        r = podman(*argv_for(v, variant, name, port))
        if r.returncode != 0:
            die(f"D13 podman create ({v} {variant}): {r.stderr}")
        try:
            t0 = time.perf_counter()
            r = podman("start", name)
            t_started = time.perf_counter()
            if r.returncode != 0:
                die(f"D13 podman start ({v} {variant}): {r.stderr}")
            deadline = t0 + 60
            while True:
                try:
                    status, body = http_get(port, "/items?limit=1", timeout=2)
                    if status == 200:
                        break
                except OSError:
                    pass
                if time.perf_counter() > deadline:
                    die(f"D13 {v} {variant}: no answer within 60 s:\n{podman('logs', name).stderr[-3000:]}")
                time.sleep(0.005)
            t1 = time.perf_counter()
            count = json.loads(body)["count"]
            if count != S.APP_ITEMS:
                die(f"D13 {v} {variant} ({'present' if present else 'restore'}): the app sees {count} items, "
                    f"not {S.APP_ITEMS}")
            return (t1 - t0) * 1000, (t_started - t0) * 1000
        finally:
            podman("rm", "-f", "-t", "0", name)
            reset_bucket(v)

    cells = [("present", "app"), ("present", "lsinit"), ("present", "shell"), ("restore", "lsinit"),
             ("restore", "shell")]
    times = {(v, c): [] for v in S.LS_VERSIONS for c in cells}
    starts = {(v, c): [] for v in S.LS_VERSIONS for c in cells}
    for v in S.LS_VERSIONS:
        one(v, "lsinit", True)   # warm-up: page cache, podman's storage
        one(v, "shell", False)
    for i in range(S.RUNS_CONTAINER):
        for v in S.LS_VERSIONS:
            for scenario, variant in cells:
                ms, start_ms = one(v, variant, scenario == "present")
                times[(v, (scenario, variant))].append(ms)
                starts[(v, (scenario, variant))].append(start_ms)
        log(f"D13 round {i + 1}/{S.RUNS_CONTAINER} done")
    return {v: {"stats": {f"{s}/{x}": st(times[(v, (s, x))]) for s, x in cells},
                "podman_start": {f"{s}/{x}": st(starts[(v, (s, x))]) for s, x in cells},
                "db_bytes": os.stat(seed).st_size, "snapshot_bytes": seeds[v]["snapshot_bytes"],
                "bucket": seeds[v]["bucket"], "endpoint": fx.endpoint} for v in S.LS_VERSIONS}



def run(work, R):
    why, R["image_build_s"] = containers_available(rebuild=S.BUILD_IMAGES)
    if why is None:
        log("D12 image sizes")
        R["image"] = run_image_size(work)
        log("D13 container start to first request (podman, fauxqs)")
        R["cstart"] = run_container_start(work)
    else:
        log(f"D12/D13 skipped: {why}")
        R["containers_skipped"] = why


# ---------------------------------------------------------------- report

CELLS = [("present/app", "database present: app alone (no Litestream)"),
         ("present/lsinit", "database present: lsinit"),
         ("present/shell", "database present: shell entrypoint"),
         ("restore/lsinit", "restore from S3: lsinit"),
         ("restore/shell", "restore from S3: shell entrypoint")]


def summary_rows(R):
    img, cs = R.get("image"), R.get("cstart")
    vs = S.LS_VERSIONS
    rows = []
    if img:
        rows.append(["D12 image `localhost/lsinit:…` (FROM scratch) ÷ the litestream binary alone"]
                    + [ratio(img[v]["image"]["size"], img[v]["files"]["litestream"]["bytes"]) for v in vs]
                    + ["lsinit's own binary is " + ", ".join(
                        f"{img[v]['files']['lsinit']['bytes'] / img[v]['image']['size'] * 100:.1f} % ({v})" for v in vs)
                       + " of the image"])
    if cs and "skipped" not in cs:
        def r(v, a_, b_):
            return ratio(cs[v]["stats"][a_]["median"], cs[v]["stats"][b_]["median"])
        rows.append(["D13 container start → first `GET /items` served, database present: lsinit ÷ shell entrypoint"]
                    + [r(v, "present/lsinit", "present/shell") for v in vs] + [""])
        rows.append(["D13 same, database restored from S3 (fauxqs): lsinit ÷ shell entrypoint"]
                    + [r(v, "restore/lsinit", "restore/shell") for v in vs] + [""])
        rows.append(["D13 database present: lsinit ÷ the app alone (no Litestream at all)"]
                    + [r(v, "present/lsinit", "present/app") for v in vs] + [""])
    return rows


def blocks(R, work):
    """The D section; its heading and plot link are report.py's."""
    img, cs = R.get("image"), R.get("cstart")
    vs = S.LS_VERSIONS
    B = {"d_intro": {
        "images": ", ".join(fragment("d_images_version", version=v, tag=S.IMAGE_TAGS[v], image=S.IMAGES[v],
                                     python=S.PYTHON_IMAGES[v]) for v in vs),
        "build_s": f"{R.get('image_build_s', 0):.0f}", "opts": " ".join(S.PODMAN_RUN_OPTS)}}
    if img:
        rows = []
        for v in vs:
            i = img[v]
            fz = i["files"]
            size = i["image"]["size"]
            rest = size - fz["lsinit"]["bytes"] - fz["litestream"]["bytes"] - fz["ca"]["bytes"]
            rows += [[f"`{S.IMAGES[v]}` (podman image size)", v, "1.00×", f(size, 0), "100 %"],
                     [f"  litestream {v} binary", v, ratio(fz["litestream"]["bytes"], size), f(fz["litestream"]["bytes"], 0),
                      f"{fz['litestream']['bytes'] / size * 100:.1f} %"],
                     ["  lsinit (static, stripped)", v, ratio(fz["lsinit"]["bytes"], size), f(fz["lsinit"]["bytes"], 0),
                      f"{fz['lsinit']['bytes'] / size * 100:.1f} %"],
                     ["  CA bundle (`ca-certificates.crt`)", v, ratio(fz["ca"]["bytes"], size), f(fz["ca"]["bytes"], 0),
                      f"{fz['ca']['bytes'] / size * 100:.1f} %"],
                     ["  the rest (passwd, group, folders, tar overhead)", v, ratio(rest, size), f(rest, 0),
                      f"{rest / size * 100:.1f} %"]]
            if i.get("gzip"):
                rows.append(["`podman save` of the image, gzip -6 (≈ what a registry transfers)", v,
                             ratio(i["gzip"], size), f(i["gzip"], 0), "—"])
        images = []
        for v in vs:
            i = img[v]
            images.append(fragment(
                "d12_image", version=v, id=i["image"]["id"], created=i["image"]["created"][:19],
                same="byte for byte" if i["same_lsinit"] else "not byte for byte",
                lsinit=f(i["files"]["lsinit"]["bytes"], 0), local=f(i["local_lsinit"], 0),
                own_copy="" if i["same_lsinit"] else fragment("d12_own_copy"),
                same_litestream="the same binary as" if i["same_litestream"] else "**not** the same binary as"))
        B["d12"] = {
            "table": table(["image / content", "Litestream", "÷ image", "bytes", "share"], rows),
            "images": "\n".join(images),
            "extra": ", ".join(f"{(img[v]['image']['size'] - img[v]['files']['litestream']['bytes']) / 1e6:.2f} MB ({v})"
                               for v in vs),
            "lsinit_mb": f"{img[vs[0]]['files']['lsinit']['bytes'] / 1e6:.2f}", "image": S.IMAGES[vs[0]]}
        layers = []
        for v in vs:
            py = img[v]["python"]["size"]
            lay = {"lsinit": 0, "litestream": 0}
            for layer in img[v].get("python_layers", []):
                if " in /lsinit" in layer["by"]:
                    lay["lsinit"] = layer["size"]
                elif " in /usr/local/bin/litestream" in layer["by"]:
                    lay["litestream"] = layer["size"]
            if lay["lsinit"] or lay["litestream"]:
                layers.append(fragment(
                    "d12_layer", image=S.PYTHON_IMAGES[v], mb=f"{py / 1e6:.0f}", lsinit=f"{lay['lsinit'] / 1e6:.2f}",
                    litestream=f"{lay['litestream'] / 1e6:.1f}", version=v,
                    share=f"{(lay['lsinit'] + lay['litestream']) / py * 100:.1f}",
                    lsinit_share=f"{lay['lsinit'] / py * 100:.2f}"))
        if layers:
            B["d12_layers"] = {"bullets": "\n".join(layers)}
        B["d12_note"] = {}
    if cs and "skipped" not in cs:
        c0 = cs[vs[0]]
        rows = []
        for key, label in CELLS:
            for v in vs:
                s = cs[v]["stats"]
                ref = {"present": s["present/shell"]["median"], "restore": s["restore/shell"]["median"]}
                x = s[key]
                scen = key.split("/")[0]
                rows.append([label, v, ratio(x["median"], ref[scen]), ratio(x["median"], s["present/app"]["median"]),
                             f(x["median"], 0), f(x["min"], 0), f(x["max"], 0),
                             f(cs[v]["podman_start"][key]["median"], 0)])
        medians = []
        for v in vs:
            s = cs[v]["stats"]
            dp = s["present/lsinit"]["median"] - s["present/shell"]["median"]
            dr = s["restore/lsinit"]["median"] - s["restore/shell"]["median"]
            da = s["present/lsinit"]["median"] - s["present/app"]["median"]
            medians.append(fragment("d13_medians", version=v, present=f"{abs(dp):.0f}",
                                    present_cmp="faster" if dp < 0 else "slower", restore=f"{abs(dr):.0f}",
                                    restore_cmp="faster" if dr < 0 else "slower", app=f"{da:+.0f}"))
        B["d13"] = {
            "db_mb": f"{c0['db_bytes'] / 1e6:.1f}", "items": f"{S.APP_ITEMS:,}",
            "snapshots": ", ".join(f"{cs[v]['snapshot_bytes'] / 1e6:.1f} MB ({v})" for v in vs),
            "runs": S.RUNS_CONTAINER, "shell_entry": SHELL_ENTRY,
            "table": table(["variant", "Litestream", "÷ shell entrypoint", "÷ app alone", "median (ms)", "min (ms)",
                            "max (ms)", "of which `podman start` returned after (ms, median)"], rows),
            "medians": "; ".join(medians), "opts": " ".join(S.PODMAN_RUN_OPTS), "image": S.PYTHON_IMAGES[vs[0]]}
    elif cs and "skipped" in cs:
        B["d13_skipped"] = {"why": cs["skipped"]}
    return B


def slower(R):
    img, cs = R.get("image"), R.get("cstart")
    items = []
    if img:
        items.append(fragment("slower_d12", extra=", ".join(
            f"{(img[v]['image']['size'] - img[v]['files']['litestream']['bytes']) / 1e6:.2f} MB ({v})" for v in img)))
    if cs and "skipped" not in cs:
        for v in S.LS_VERSIONS:
            s = cs[v]["stats"]
            for scen, label in [("present", "database present"), ("restore", "restore from S3")]:
                if s[f"{scen}/lsinit"]["median"] > s[f"{scen}/shell"]["median"]:
                    items.append(fragment("slower_d13", what=label, version=v, ratio=ratio(
                        s[f"{scen}/lsinit"]["median"], s[f"{scen}/shell"]["median"])))
    return items
