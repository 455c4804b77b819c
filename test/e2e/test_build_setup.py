"""What a newcomer meets before any query: a build on a machine without the
server headers, `make installcheck` without the emulator's address, and a
checkout that pg_regress's output does not dirty."""
import os
import subprocess

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def make(*args, env=None):
    return subprocess.run(["make", "--no-print-directory", "-C", REPO] + list(args),
                          env=env or dict(os.environ), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)


def fake_pg_config(tmp_path, includedir):
    """A pg_config like postgresql-common's without postgresql-server-dev:
    it answers, but the server headers it names are not there."""
    real = os.environ.get("PG_CONFIG", "/usr/lib/postgresql/15/bin/pg_config")
    path = tmp_path / "pg_config"
    path.write_text('#!/bin/sh\ncase "$1" in --includedir-server) echo %s;;\n'
                    '*) exec %s "$@";; esac\n' % (includedir, real))
    path.chmod(0o755)
    return str(path)


def test_make_without_server_headers_says_make_deps(tmp_path):
    out = make("PG_CONFIG=" + fake_pg_config(tmp_path, tmp_path / "no-such-dir"))
    assert out.returncode != 0
    assert "server headers are not installed" in out.stdout, out.stdout
    assert "run 'make deps'" in out.stdout, out.stdout
    assert "error:" not in out.stdout, out.stdout  # no compiler error


def test_make_without_pg_config_says_make_deps():
    out = make("PG_CONFIG=")
    assert out.returncode != 0
    assert "run 'make deps'" in out.stdout, out.stdout


def test_installcheck_without_the_emulator_says_what_to_set():
    env = dict(os.environ)
    env.pop("AUDIT_FDW_EMULATOR_URL", None)
    out = make("installcheck", env=env)
    assert out.returncode != 0
    assert "AUDIT_FDW_EMULATOR_URL" in out.stdout and "test/run regress" in out.stdout, out.stdout
    assert "KeyError" not in out.stdout and "Traceback" not in out.stdout, out.stdout


def test_regress_output_is_ignored_by_git():
    out = subprocess.run(["git", "-C", REPO, "check-ignore", "-q",
                          "test/regress-output/regression.diffs"])
    assert out.returncode == 0
