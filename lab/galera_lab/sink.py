"""Alertmanager webhook receiver for the lab: appends every notification (one JSON per line).

Run as `python -m galera_lab.sink --listen 127.0.0.1:PORT --out FILE`; GET / answers "ok" so the
lab can tell it is up.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MAX_BODY = 4 * 1024 * 1024  # Alertmanager batches alerts; a few MB is far beyond a lab's needs


def make_handler(out: Path) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            body = self.rfile.read(length)
            try:
                record = json.loads(body)
            except ValueError:
                record = {"unparsed": body.decode("utf-8", "replace")}
            with lock, out.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, sort_keys=True) + "\n")
            self.send_response(200)
            self.end_headers()

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok\n")

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the notifications file is the record."""

    return Handler


def read_notifications(path: Path) -> list[dict[str, object]]:
    """Every notification the sink has recorded, oldest first."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", required=True, help="host:port (loopback)")
    parser.add_argument("--out", required=True, help="file to append notifications to")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.touch()
    server = ThreadingHTTPServer((host, int(port)), make_handler(out))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
