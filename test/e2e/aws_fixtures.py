"""Helpers of the AWS client core's end-to-end tests (test_aws_*.py).

A foreign server of audit_fdw pointed at the emulator, with a user mapping
holding the emulator's keys (or none, for the credential chain), and small
local HTTP servers on free ports for the credential endpoints.
"""
import http.server
import json
import os
import socket
import threading

import psycopg2.sql as sql


def ensure_extension(cur):
    cur.execute("CREATE EXTENSION IF NOT EXISTS audit_fdw")
    # the wrapper is the extension's; create a bare one if it is not there yet
    cur.execute("""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_foreign_data_wrapper WHERE fdwname = 'audit_fdw')
          THEN CREATE FOREIGN DATA WRAPPER audit_fdw; END IF;
        END $$""")


def create_server(cur, name, endpoint, keys=("test", "test"), region="us-east-1",
                  mapping_options=None):
    """(Re)create server `name` and the current user's mapping for it."""
    ensure_extension(cur)
    cur.execute(sql.SQL("DROP SERVER IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    cur.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER audit_fdw "
                        "OPTIONS (region %s, endpoint %s)").format(sql.Identifier(name)),
                (region, endpoint))
    opts = dict(mapping_options or {})
    if keys:
        opts.setdefault("access_key_id", keys[0])
        opts.setdefault("secret_access_key", keys[1])
    if opts:
        parts = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(k), sql.Literal(v))
                                   for k, v in opts.items())
        cur.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS ({})")
                    .format(sql.Identifier(name), parts))
    else:
        cur.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER {}")
                    .format(sql.Identifier(name)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """A threaded HTTP server (HTTPS when tls is (certfile, keyfile)) on a free
    loopback port; handler(method, path,
    headers, body) -> (status, headers dict, body bytes).  Every request is
    recorded in .requests as (method, path, headers dict)."""

    def __init__(self, handler, tls=None):
        self.requests = []
        self.client_ports = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _serve(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.requests.append((self.command, self.path, dict(self.headers)))
                outer.client_ports.append(self.client_address[1])
                status, headers, out = handler(self.command, self.path, self.headers, body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_PUT = do_POST = _serve

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        if tls is not None:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.url = "https://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def json_body(obj):
    return json.dumps(obj).encode()


def emulator_url():
    return os.environ["AUDIT_FDW_EMULATOR_URL"]


class EnvCluster:
    """A second, private PostgreSQL cluster whose postmaster runs with an
    environment the test chooses (the AWS variables of the credential
    chain are read from the server process's environment).  Initialized
    once; start(env) / stop() per case.  Runs as the postgres user when
    the tests run as root, like test/lib/cluster.sh."""

    def __init__(self, base_dir):
        import subprocess
        import tempfile
        self.subprocess = subprocess
        bindir = subprocess.check_output(
            [os.environ.get("PG_CONFIG", "pg_config"), "--bindir"], text=True).strip()
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="envcluster-", dir=base_dir)
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home)
        self.port = free_port()
        self._as_postgres_chown(self.dir)
        self._run([os.path.join(bindir, "initdb"), "-D", self.data, "-U", "postgres",
                   "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("port = %d\nlisten_addresses = ''\nunix_socket_directories = '%s'\n"
                    "fsync = off\nlog_min_messages = warning\n" % (self.port, self.dir))
        self.running = False

    def _as_postgres_chown(self, path):
        if os.geteuid() == 0:
            self.subprocess.check_call(["chown", "-R", "postgres:", path])

    def _run(self, argv, env=None):
        if env is not None:
            argv = ["env", "-i"] + ["%s=%s" % kv for kv in env.items()] + argv
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        self.subprocess.run(argv, check=True, stdout=self.subprocess.DEVNULL,
                            stderr=self.subprocess.PIPE)

    def write_file(self, rel, text, mode=0o644):
        """A file under the cluster's home directory (~ of the server)."""
        path = os.path.join(self.home, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        self._as_postgres_chown(self.home)
        return path

    def start(self, env):
        full = {"PATH": "/usr/bin:/bin", "HOME": self.home, "LANG": "C.UTF-8"}
        full.update(env)
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-w", "-t", "60",
                   "-l", os.path.join(self.dir, "postgres.log"), "start"], env=full)
        self.running = True

    def stop(self):
        if self.running:
            self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "fast",
                       "-w", "stop"])
            self.running = False

    def connect(self):
        import psycopg2
        conn = psycopg2.connect(host=self.dir, port=self.port, user="postgres",
                                dbname="postgres")
        conn.autocommit = True
        return conn

    def remove(self):
        import shutil
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def self_signed_certificate():
    """A certificate for 127.0.0.1 and its key, in a folder the postgres user
    can read: (certfile, keyfile)."""
    import subprocess
    import tempfile
    base = os.environ.get("AUDIT_FDW_PG_DIR")
    if base:
        os.makedirs(base, exist_ok=True)
    d = tempfile.mkdtemp(prefix="tls-", dir=base or None)
    os.chmod(d, 0o755)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(cert, 0o644)
    return cert, key
