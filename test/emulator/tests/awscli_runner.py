"""Runs AWS CLI v2 commands in one long-lived process, as `aws` would run
them: a JSON line {"args": [...], "env": {...}} in, a JSON line
{"rc", "stdout", "stderr"} out.

Each command gets a fresh CLI driver (a new botocore session reading the
environment and configuration it is given) through the CLI's own entry
point; only the interpreter's start and the CLI's imports (about 0.9 s a
command on a 2-core machine) are paid once.
"""
import io
import json
import os
import sys


def run(args, env):
    import awscli
    from awscli.clidriver import AWSCLIEntryPoint
    os.environ.clear()
    os.environ.update(env)
    # what importing awscli does to the environment of a new `aws` process
    paths = [os.path.expanduser(os.path.expandvars(p))
             for p in env["AWS_DATA_PATH"].split(os.pathsep)] if "AWS_DATA_PATH" in env else []
    paths.append(os.path.join(os.path.dirname(os.path.abspath(awscli.__file__)), "data"))
    os.environ["AWS_DATA_PATH"] = os.pathsep.join(paths)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        rc = AWSCLIEntryPoint().main(args)
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    finally:
        sys.stdout, sys.stderr = saved
    out.flush()
    err.flush()
    return {"rc": rc if isinstance(rc, int) else 255,
            "stdout": out.buffer.getvalue().decode("utf-8", "replace"),
            "stderr": err.buffer.getvalue().decode("utf-8", "replace")}


def main():
    reply = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        reply.write(json.dumps(run(req["args"], req["env"])) + "\n")
        reply.flush()


if __name__ == "__main__":
    main()
