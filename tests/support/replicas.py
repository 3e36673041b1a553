"""Replica destinations (file, S3 on fauxqs, SFTP on sshd): how lsinit is
pointed at one and how a plain litestream reads it back."""
import pathlib
import uuid


class Replica:
    """One replica: how lsinit is pointed at it (url, env), how a plain
    litestream reads it (ls_replica, ls_env), and where it lives (folder for
    file and SFTP; s3, bucket and prefix on S3)."""

    def __init__(self, kind, url, env, ls_replica, ls_env, folder=None, bucket=None, prefix=None, s3=None):
        self.kind, self.url, self.env = kind, url, env
        self.ls_replica, self.ls_env = ls_replica, ls_env
        self.folder, self.bucket, self.prefix, self.s3 = folder, bucket, prefix, s3

    def keys(self):
        """What the replica holds (file names under the folder / the bucket's object keys), sorted."""
        if self.kind == "s3":
            return self.s3.list_keys(self.bucket) if self.s3.running() else []
        if not self.folder.exists():
            return []
        return sorted(str(p.relative_to(self.folder)) for p in self.folder.rglob("*"))


def make_replica(kind, where, fauxqs=None, sftp=None, bucket_prefix="rel", folder_name=None):
    """A fresh replica of ``kind``: a file replica in where/folder_name
    (default replica-<random>), an S3 replica in a new fauxqs bucket named
    bucket_prefix-<random>, an SFTP replica in a new folder of the server's root."""
    name = uuid.uuid4().hex[:10]
    if kind == "file":
        d = pathlib.Path(where) / (folder_name or f"replica-{name}")
        return Replica(kind, f"file://{d}", {}, {"type": "file", "path": str(d)}, {}, folder=d)
    if kind == "s3":
        fauxqs.ensure_running()
        bucket = fauxqs.new_bucket(bucket_prefix)
        # fauxqs ignores conditional writes, so it cannot hold the replica's lease: without LSINIT_LEASE=off
        # lsinit would warn (auto) on every start; tests/integration/test_lease.py covers that case.
        env = {"LITESTREAM_REPLICA_ENDPOINT": fauxqs.endpoint,
               "LITESTREAM_ACCESS_KEY_ID": fauxqs.access_key_id,
               "LITESTREAM_SECRET_ACCESS_KEY": fauxqs.secret_access_key,
               "LSINIT_LEASE": "off"}
        return Replica(kind, f"s3://{bucket}/{name}", env, fauxqs.litestream_replica(bucket, name), fauxqs.aws_env,
                       bucket=bucket, prefix=name, s3=fauxqs)
    if kind == "sftp":
        sftp.ensure_running()
        d = pathlib.Path(sftp.root) / name
        url = f"sftp://{sftp.user}@{sftp.host}:{sftp.port}{d}"
        return Replica(kind, url, {"LSINIT_SFTP_KEY_PATH": sftp.key_path}, sftp.litestream_replica(str(d)), {},
                       folder=d)
    raise ValueError(kind)


def request_replica(kind, request, tmp_path, bucket_prefix):
    """make_replica for a test: a file replica in tmp_path/replica; the fauxqs
    or sftp_server fixture is asked of pytest's ``request`` only when ``kind``
    needs it (``request`` may be None for a file replica)."""
    return make_replica(kind, tmp_path,
                        fauxqs=request.getfixturevalue("fauxqs") if kind == "s3" else None,
                        sftp=request.getfixturevalue("sftp_server") if kind == "sftp" else None,
                        bucket_prefix=bucket_prefix, folder_name="replica")
