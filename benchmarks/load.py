#!/usr/bin/env python
"""Throughput under load: the production server (gunicorn, as `make serve`) on the benchmark's
data, driven by wrk at a fixed concurrency, logged in.

    DATABASE_URL=postgres://... .venv/bin/python benchmarks/load.py [--duration 20]
        [--connections 16] [--workers 4] [--threads 2]

Needs the benchmark's database (`make bench` seeds it) and Debian's `wrk` (`make load` installs
it where it may). Prints requests per second and the latency percentiles per page, and keeps the
table in benchmarks/results/load-<date>.md. The server runs with the production settings
(DEBUG off, persistent connections, compiled static files); it is told the request came over
HTTPS (`X-Forwarded-Proto`, as the load balancer would), so no redirect is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = {
    "client list": "/clients/",
    "dashboard": "/",
    "audit feed": "/audit/",
    "invoice list": "/billing/invoices/",
}
TARGETS = {"client list": 300, "dashboard": 150, "audit feed": 150}
P99_TARGET_MS = 250


def bench_url() -> str:
    """The benchmark's database (`<name>_bench`), on the server the settings point at: the
    embedded one when DATABASE_URL is unset, as for `make bench`."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whmcs_manual.settings")
    os.environ.setdefault("WHMCS_DB_AS_OWNER", "1")
    os.environ.setdefault("DJANGO_DEBUG", "1")  # only to read the settings here; the server's
    sys.path.insert(0, str(ROOT))  # environment says DJANGO_DEBUG=0 (server_env)
    from django.conf import settings

    db = settings.DATABASES["default"]
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}_bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _development_key() -> str:
    from django.conf import settings

    return settings.FIELD_ENCRYPTION_KEYS[0]


def server_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATABASE_OWNER_URL": database_url,
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": "load-test-" + "x" * 50,
        # The benchmark's secrets were encrypted by the development settings' key; the server
        # reads them with it (a real deployment sets its own keys).
        "FIELD_ENCRYPTION_KEYS": _development_key(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STATIC_ROOT": str(ROOT / ".data" / "load-static"),
    }


def login_cookie(env: dict[str, str]) -> str:
    """A session for the benchmark's first staff user, made in the server's own database."""
    code = (
        "import django; django.setup()\n"
        "from django.contrib.auth import get_user_model, BACKEND_SESSION_KEY, "
        "HASH_SESSION_KEY, SESSION_KEY\n"
        "from django.contrib.sessions.backends.db import SessionStore\n"
        "user = get_user_model().objects.get(username='bench-staff-0')\n"
        "s = SessionStore()\n"
        "s[SESSION_KEY] = str(user.pk)\n"
        "s[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'\n"
        "s[HASH_SESSION_KEY] = user.get_session_auth_hash()\n"
        "s.create()\n"
        "from benchmarks.config import verified_session\n"
        "verified_session(s, user)\n"
        "print(s.session_key)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "whmcs_manual.settings"},
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> dict[str, float]:
    result: dict[str, float] = {}
    for pct in ("50", "90", "99"):
        match = re.search(rf"^\s+{pct}%\s+(\S+)", output, re.M)
        result[f"p{pct}"] = _ms(match.group(1)) if match else float("nan")
    result["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["errors"] = float(errors.group(1)) if errors else 0.0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds per page")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 4)))
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: `sudo apt-get install wrk` (Debian), or run `make load`.")

    env = server_env(bench_url())
    python = Path(sys.executable)
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    cookie = login_cookie(env)
    port = free_port()
    gunicorn = python.parent / "gunicorn"
    server = subprocess.Popen(
        [
            *(gunicorn, "whmcs_manual.wsgi:application", "--bind", f"127.0.0.1:{port}"),
            *("--workers", str(args.workers), "--log-level", "warning"),
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    headers = ["-H", f"Cookie: sessionid={cookie}", "-H", "X-Forwarded-Proto: https"]
    rows = []
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310 - local
                break
            except OSError:
                time.sleep(0.2)
        for name, path in PAGES.items():
            # Warm every worker (connections, template and URL caches) before measuring.
            subprocess.run(
                ["wrk", "-t1", "-c4", "-d3s", *headers, base + path],
                check=True,
                capture_output=True,
            )
            out = subprocess.run(
                [
                    *("wrk", f"-t{args.threads}", f"-c{args.connections}"),
                    *(f"-d{args.duration}s", "--latency", *headers, base + path),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            figures = parse_wrk(out)
            rows.append((name, path, figures))
            print(
                f"{name:14} {figures['rps']:8.1f} req/s  p50 {figures['p50']:7.1f} ms  "
                f"p99 {figures['p99']:7.1f} ms  errors {int(figures['errors'])}",
                flush=True,
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    lines = [
        f"Load: gunicorn {args.workers} workers, wrk {args.connections} connections, "
        f"{args.duration} s per page, {os.cpu_count()} cores shared with PostgreSQL.",
        "",
        "| page | req/s | target | p50 ms | p99 ms (target ≤ 250) | non-2xx |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, path, f in rows:
        target = TARGETS.get(name)
        lines.append(
            f"| {name} (`{path}`) | {f['rps']:.1f} | {f'≥ {target}' if target else '-'} | "
            f"{f['p50']:.1f} | {f['p99']:.1f} | {int(f['errors'])} |"
        )
    table = "\n".join(lines)
    print()
    print(table)
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"load-{dt.date.today().isoformat()}.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
