"""Helpers of the hostile-server tests (test_hostile_*.py).

Every case a test tries is recorded, with its fault and what audit_fdw did,
in $AUDIT_FDW_RUN_DIR/hardening/hostile.jsonl, which test/hardening/report
turns into the numbers of test/HARDENING.md.
"""
import json
import os
import socket
import threading
import time


def record(area, case, fault, outcome, detail=""):
    """Append one tried case: area (fdw, pump), case name, the fault spec,
    outcome ("error", "rows", "retried", ...) and a detail (the message)."""
    root = os.environ.get("AUDIT_FDW_RUN_DIR")
    if not root:
        return
    d = os.path.join(root, "hardening")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "hostile.jsonl"), "a") as f:
        f.write(json.dumps({"area": area, "case": case, "fault": fault,
                            "outcome": outcome, "detail": detail[:300],
                            "time": time.time()}) + "\n")


class Listener:
    """A TCP listener on a loopback port that records every connection and
    what was sent on it (a redirect target: nothing may arrive)."""

    def __init__(self, port):
        self.port = port
        self.received = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(1)
            try:
                self.received.append(conn.recv(65536))
            except OSError:
                self.received.append(b"")
            conn.close()

    def close(self):
        self.stopped = True
        self.thread.join(2)
        self.sock.close()


def extra_port(offset):
    """A port of this run's own range: the emulator's port + offset."""
    return int(os.environ.get("AUDIT_FDW_EMU_PORT", "45660")) + offset
