"""Every source of the AWS credential chain, used for real: the user
mapping (with a role on top), the environment, the shared credentials and
config files (profiles, role_arn with source_profile, credential_process),
a web identity token file, a container credentials endpoint, IMDSv2, the
cache of temporary credentials, and a chain that finds nothing.

The chain reads the server process's environment, so these tests start a
second cluster whose postmaster runs with exactly the variables of each
case; the container and instance metadata endpoints are small HTTP servers
on free ports."""
import base64
import json
import os
import tempfile
import time

import psycopg2
import pytest

from aws_fixtures import EnvCluster, LocalServer, create_server, emulator_url, free_port, \
    json_body

ROLE_ARN = "arn:aws:iam::000000000000:role/audit-reader"


@pytest.fixture(scope="module")
def cluster():
    # beside the test cluster: a place the postgres user can reach
    base = os.environ.get("AUDIT_FDW_PG_DIR")
    if base:
        os.makedirs(base, exist_ok=True)
    c = EnvCluster(base or tempfile.gettempdir())
    yield c
    c.remove()


def identity(cluster, env, server_options=None, mapping_options=None):
    """Start the cluster with env, ask aws_identity(), stop it.  Returns the
    row as a dict, or raises the psycopg2 error."""
    cluster.start(env)
    try:
        conn = cluster.connect()
        try:
            with conn.cursor() as cur:
                create_server(cur, "chain", emulator_url(), keys=None,
                              mapping_options=mapping_options)
                cur.execute("SELECT * FROM audit_fdw.aws_identity('chain')")
                cols = [d[0] for d in cur.description]
                return dict(zip(cols, cur.fetchone()))
        finally:
            conn.close()
    finally:
        cluster.stop()


def temporary_credentials(emulator, seconds=3600):
    sts = emulator.client("sts")
    c = sts.get_session_token(DurationSeconds=seconds)["Credentials"]
    return c


def no_metadata():
    """Variables that keep the chain from waiting on 169.254.169.254."""
    return {"AWS_EC2_METADATA_DISABLED": "true"}


def test_user_mapping_keys(db):
    with db.cursor() as cur:
        create_server(cur, "aws_core_um", emulator_url())
        cur.execute("SELECT source, access_key_id FROM audit_fdw.aws_identity('aws_core_um')")
        assert cur.fetchone() == ("user mapping", "test")
        cur.execute("DROP SERVER aws_core_um CASCADE")


def test_user_mapping_role_arn_assumed_on_top(db, emulator):
    before = emulator.mark()
    with db.cursor() as cur:
        create_server(cur, "aws_core_role", emulator_url(),
                      mapping_options={"role_arn": ROLE_ARN, "external_id": "ext-1"})
        cur.execute("SELECT source, access_key_id, arn FROM audit_fdw.aws_identity('aws_core_role')")
        source, akid, arn = cur.fetchone()
        # a second call in the same session uses the cached role credentials
        cur.execute("SELECT arn FROM audit_fdw.aws_identity('aws_core_role')")
        assert cur.fetchone()[0] == arn
        cur.execute("DROP SERVER aws_core_role CASCADE")
    assert source == "user mapping, then assumed role " + ROLE_ARN
    assert akid != "test"
    assert arn.startswith("arn:aws:sts::000000000000:assumed-role/audit-reader/audit_fdw-")
    calls = emulator.requests(service="sts", operation="AssumeRole", since=before)
    assert len(calls) == 1
    assert calls[0]["input"]["ExternalId"] == "ext-1"


def test_environment(cluster, emulator):
    c = temporary_credentials(emulator)
    row = identity(cluster, dict(no_metadata(), AWS_ACCESS_KEY_ID=c["AccessKeyId"],
                                 AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"],
                                 AWS_SESSION_TOKEN=c["SessionToken"]))
    assert row["source"] == "environment"
    assert row["access_key_id"] == c["AccessKeyId"]


def test_shared_credentials_file_in_home(cluster):
    cluster.write_file(".aws/credentials",
                       "[default]\naws_access_key_id = test\naws_secret_access_key = test\n")
    try:
        row = identity(cluster, no_metadata())
    finally:
        os.unlink(os.path.join(cluster.home, ".aws/credentials"))
    assert row["source"] == "profile default"
    assert row["access_key_id"] == "test"


def test_named_profile_from_env_and_option(cluster):
    path = cluster.write_file("conf/creds",
                              "[default]\naws_access_key_id = wrong\naws_secret_access_key = x\n"
                              "[dev]\naws_access_key_id = test\naws_secret_access_key = test\n")
    row = identity(cluster, dict(no_metadata(), AWS_SHARED_CREDENTIALS_FILE=path,
                                 AWS_PROFILE="dev"))
    assert row["source"] == "profile dev"
    # the user mapping's profile option picks a profile too
    row = identity(cluster, dict(no_metadata(), AWS_SHARED_CREDENTIALS_FILE=path),
                   mapping_options={"profile": "dev"})
    assert row["source"] == "profile dev"


def test_config_file_role_with_source_profile(cluster, emulator):
    creds = cluster.write_file("conf/creds2",
                               "[base]\naws_access_key_id = test\naws_secret_access_key = test\n")
    config = cluster.write_file("conf/config",
                                "[profile reader]\nrole_arn = %s\nsource_profile = base\n"
                                "role_session_name = core-test\n" % ROLE_ARN)
    before = emulator.mark()
    row = identity(cluster, dict(no_metadata(), AWS_SHARED_CREDENTIALS_FILE=creds,
                                 AWS_CONFIG_FILE=config, AWS_PROFILE="reader"))
    assert row["source"] == "profile reader: assumed role " + ROLE_ARN
    assert row["arn"] == "arn:aws:sts::000000000000:assumed-role/audit-reader/core-test"
    assert len(emulator.requests(service="sts", operation="AssumeRole", since=before)) == 1


def test_missing_profile_is_an_error(cluster):
    path = cluster.write_file("conf/creds3", "[other]\naws_access_key_id = a\n")
    with pytest.raises(psycopg2.Error) as exc:
        identity(cluster, dict(no_metadata(), AWS_SHARED_CREDENTIALS_FILE=path,
                               AWS_PROFILE="nosuch"))
    assert exc.value.diag.message_primary == 'AWS profile "nosuch" not found'


def test_credential_process(cluster, emulator):
    c = temporary_credentials(emulator)
    doc = {"Version": 1, "AccessKeyId": c["AccessKeyId"],
           "SecretAccessKey": c["SecretAccessKey"], "SessionToken": c["SessionToken"],
           "Expiration": c["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ")}
    script = cluster.write_file("bin/creds.sh",
                                "#!/bin/sh\ncat <<'EOF'\n%s\nEOF\n" % json.dumps(doc),
                                mode=0o755)
    config = cluster.write_file("conf/config-process",
                                "[default]\ncredential_process = %s --flag\n" % script)
    row = identity(cluster, dict(no_metadata(), AWS_CONFIG_FILE=config,
                                 AWS_SHARED_CREDENTIALS_FILE="/nonexistent"))
    assert row["source"] == "profile default: credential_process"
    assert row["access_key_id"] == c["AccessKeyId"]


def test_credential_process_failure(cluster):
    config = cluster.write_file("conf/config-fail",
                                "[default]\ncredential_process = sh -c 'exit 3'\n")
    with pytest.raises(psycopg2.Error) as exc:
        identity(cluster, dict(no_metadata(), AWS_CONFIG_FILE=config,
                               AWS_SHARED_CREDENTIALS_FILE="/nonexistent"))
    assert exc.value.diag.message_primary == \
        'credential_process of AWS profile "default" failed'
    assert "exited with status 3" in exc.value.diag.message_detail


def test_statement_timeout_interrupts_a_hanging_credential_process(cluster):
    """Fetching credentials is a wait like any other: statement_timeout
    returns within a second of firing while credential_process hangs."""
    script = cluster.write_file("bin/hang.sh", "#!/bin/sh\nexec sleep 30\n", mode=0o755)
    config = cluster.write_file("conf/config-hang",
                                "[default]\ncredential_process = %s\n" % script)
    cluster.start(dict(no_metadata(), AWS_CONFIG_FILE=config,
                       AWS_SHARED_CREDENTIALS_FILE="/nonexistent"))
    try:
        conn = cluster.connect()
        try:
            with conn.cursor() as cur:
                create_server(cur, "chain", emulator_url(), keys=None)
                cur.execute("SET statement_timeout = '500ms'")
                start = time.monotonic()
                with pytest.raises(psycopg2.errors.QueryCanceled):
                    cur.execute("SELECT * FROM audit_fdw.aws_identity('chain')")
                assert time.monotonic() - start < 1.5
        finally:
            conn.close()
    finally:
        cluster.stop()


def jwt(claims):
    enc = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
    return "%s.%s.%s" % (enc({"alg": "RS256", "typ": "JWT"}), enc(claims), "c2ln")


def test_web_identity_token_file(cluster, emulator):
    # expiring an hour from the emulator's clock, which earlier tests may have moved ahead
    token = cluster.write_file("token/jwt", jwt({"sub": "system:serviceaccount:audit",
                                                 "aud": "sts.amazonaws.com",
                                                 "exp": int(emulator.now()) + 3600}) + "\n")
    before = emulator.mark()
    row = identity(cluster, dict(no_metadata(), AWS_WEB_IDENTITY_TOKEN_FILE=token,
                                 AWS_ROLE_ARN=ROLE_ARN, AWS_ROLE_SESSION_NAME="pod-1"))
    assert row["source"] == "web identity " + ROLE_ARN
    assert row["arn"] == "arn:aws:sts::000000000000:assumed-role/audit-reader/pod-1"
    calls = emulator.requests(service="sts", operation="AssumeRoleWithWebIdentity",
                             since=before)
    assert len(calls) == 1
    assert calls[0]["input"]["WebIdentityToken"].startswith("eyJ")


def credentials_doc(c, imds=False):
    doc = {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
           "Token": c["SessionToken"],
           "Expiration": c["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ")}
    if imds:
        doc.update({"Code": "Success", "Type": "AWS-HMAC",
                    "LastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    return doc


def test_container_endpoint_with_token(cluster, emulator):
    c = temporary_credentials(emulator)

    def handler(method, path, headers, body):
        if path != "/v2/credentials/abc" or headers.get("Authorization") != "sekrit-token":
            return 401, {}, b"{}"
        return 200, {"Content-Type": "application/json"}, json_body(credentials_doc(c))

    server = LocalServer(handler)
    try:
        row = identity(cluster, dict(no_metadata(),
                                     AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/v2/credentials/abc",
                                     AWS_CONTAINER_AUTHORIZATION_TOKEN="sekrit-token"))
        assert row["source"] == "container credentials"
        assert row["access_key_id"] == c["AccessKeyId"]
        # the token may come from a file instead (EKS Pod Identity)
        tokfile = cluster.write_file("token/container", "sekrit-token\n")
        row = identity(cluster, dict(no_metadata(),
                                     AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/v2/credentials/abc",
                                     AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=tokfile))
        assert row["access_key_id"] == c["AccessKeyId"]
    finally:
        server.close()
    assert all(r[2].get("Authorization") == "sekrit-token" for r in server.requests)


def test_container_full_uri_must_be_local_or_https(cluster):
    with pytest.raises(psycopg2.Error) as exc:
        identity(cluster, dict(no_metadata(),
                               AWS_CONTAINER_CREDENTIALS_FULL_URI="http://192.0.2.1/creds"))
    assert "must use https or a loopback or container host" in exc.value.diag.message_primary


class Imds:
    """IMDSv2: PUT a token first, then GET the role and its credentials with it."""

    def __init__(self, creds, expiration=None):
        self.token = "imds-token-123"
        self.creds = creds
        self.expiration = expiration
        self.server = LocalServer(self.handle)

    def handle(self, method, path, headers, body):
        if method == "PUT" and path == "/latest/api/token":
            if "X-aws-ec2-metadata-token-ttl-seconds" not in headers:
                return 400, {}, b""
            return 200, {}, self.token.encode()
        if headers.get("X-aws-ec2-metadata-token") != self.token:
            return 401, {}, b""
        if path == "/latest/meta-data/iam/security-credentials/":
            return 200, {}, b"audit-instance-role"
        if path == "/latest/meta-data/iam/security-credentials/audit-instance-role":
            doc = credentials_doc(self.creds, imds=True)
            if self.expiration:
                doc["Expiration"] = self.expiration
            return 200, {"Content-Type": "application/json"}, json_body(doc)
        return 404, {}, b""

    def credential_gets(self):
        return sum(1 for r in self.server.requests if r[1].endswith("audit-instance-role"))


def test_imds_v2(cluster, emulator):
    c = temporary_credentials(emulator)
    imds = Imds(c)
    try:
        row = identity(cluster, {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.server.url})
    finally:
        imds.server.close()
    assert row["source"] == "instance metadata role audit-instance-role"
    assert row["access_key_id"] == c["AccessKeyId"]
    # the token was fetched first, and every GET carried it
    assert imds.server.requests[0][0] == "PUT"
    assert all(r[2].get("X-aws-ec2-metadata-token") == imds.token
               for r in imds.server.requests[1:])


def run_twice(cluster, env, pause=0):
    cluster.start(env)
    try:
        conn = cluster.connect()
        with conn.cursor() as cur:
            create_server(cur, "chain", emulator_url(), keys=None)
            cur.execute("SELECT arn FROM audit_fdw.aws_identity('chain')")
            time.sleep(pause)
            cur.execute("SELECT arn FROM audit_fdw.aws_identity('chain')")
        conn.close()
    finally:
        cluster.stop()


def test_temporary_credentials_are_cached_until_near_expiry(cluster, emulator):
    c = temporary_credentials(emulator)
    imds = Imds(c)
    try:
        run_twice(cluster, {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.server.url})
        assert imds.credential_gets() == 1
        # short-lived credentials are fetched again half way through their life
        imds.expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 4))
        imds.server.requests.clear()
        run_twice(cluster, {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.server.url}, pause=2.5)
        assert imds.credential_gets() == 2
    finally:
        imds.server.close()


def test_chain_that_finds_nothing(cluster):
    refused = "http://127.0.0.1:%d" % free_port()
    with pytest.raises(psycopg2.Error) as exc:
        identity(cluster, {"AWS_EC2_METADATA_SERVICE_ENDPOINT": refused,
                           "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
                           "AWS_CONFIG_FILE": "/nonexistent/config"})
    e = exc.value
    assert e.pgcode == "28000"
    assert e.diag.message_primary == 'no AWS credentials found for server "chain"'
    detail = e.diag.message_detail
    assert "AWS_ACCESS_KEY_ID" in detail
    assert "/nonexistent/credentials" in detail
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in detail
    assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" in detail
    assert "no answer from " + refused in detail
    hint = e.diag.message_hint
    for where in ("access_key_id", "AWS_ACCESS_KEY_ID", "~/.aws/credentials", "AWS_PROFILE",
                  "AWS_WEB_IDENTITY_TOKEN_FILE", "container", "EC2 instance role"):
        assert where in hint, where


def test_imds_disabled_is_reported(cluster):
    with pytest.raises(psycopg2.Error) as exc:
        identity(cluster, dict(no_metadata(),
                               AWS_SHARED_CREDENTIALS_FILE="/nonexistent/credentials",
                               AWS_CONFIG_FILE="/nonexistent/config"))
    assert "disabled by AWS_EC2_METADATA_DISABLED" in exc.value.diag.message_detail


def test_profile_role_from_environment_credential_source(cluster):
    config = cluster.write_file("conf/config-source",
                                "[profile ops]\nrole_arn = %s\ncredential_source = Environment\n"
                                "external_id = ops-ext\n" % ROLE_ARN)
    row = identity(cluster, dict(no_metadata(), AWS_CONFIG_FILE=config, AWS_PROFILE="ops",
                                 AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
                                 AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test"))
    # AWS_PROFILE does not outrank the environment's own keys (as in the SDKs)
    assert row["source"] == "environment"
    row = identity(cluster, dict(no_metadata(), AWS_CONFIG_FILE=config,
                                 AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
                                 AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test"),
                   mapping_options={"profile": "ops"})
    assert row["source"] == "profile ops: assumed role " + ROLE_ARN
    assert "assumed-role/audit-reader/" in row["arn"]


def test_profile_web_identity_token_file(cluster, emulator):
    token = cluster.write_file("token/jwt2", jwt({"sub": "x", "exp": int(emulator.now()) + 600}))
    config = cluster.write_file("conf/config-wi",
                                "[default]\nrole_arn = %s\nweb_identity_token_file = %s\n"
                                "role_session_name = from-profile\n" % (ROLE_ARN, token))
    row = identity(cluster, dict(no_metadata(), AWS_CONFIG_FILE=config,
                                 AWS_SHARED_CREDENTIALS_FILE="/nonexistent"))
    assert row["source"] == "profile default: web identity " + ROLE_ARN
    assert row["arn"].endswith("/audit-reader/from-profile")


def test_configured_container_endpoint_that_fails_is_an_error(cluster):
    server = LocalServer(lambda m, p, h, b: (500, {}, b"oops"))
    try:
        with pytest.raises(psycopg2.Error) as exc:
            identity(cluster, dict(no_metadata(),
                                   AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/creds"))
    finally:
        server.close()
    assert exc.value.diag.message_primary == \
        "could not get credentials from the container credentials endpoint"
    assert "HTTP status 500" in exc.value.diag.message_detail
    # three attempts, as the SDKs make
    assert len(server.requests) == 3


def test_expired_web_identity_token_is_an_aws_error(cluster):
    token = cluster.write_file("token/old", jwt({"sub": "x", "exp": 1000}))
    with pytest.raises(psycopg2.Error) as exc:
        identity(cluster, dict(no_metadata(), AWS_WEB_IDENTITY_TOKEN_FILE=token,
                               AWS_ROLE_ARN=ROLE_ARN))
    assert exc.value.pgcode == "28000"
    assert exc.value.diag.message_primary == \
        "aws sts AssumeRoleWithWebIdentity failed: ExpiredTokenException"
