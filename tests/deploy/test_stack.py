"""The production set-up, for real: gunicorn started as deploy/Dockerfile starts it, behind Debian's
nginx running deploy/nginx.conf, with static files collected as the Dockerfile collects them and
the app configured by a .env.production file alone.

The stack speaks plain HTTP on 127.0.0.1 (SECURE_SSL_REDIRECT=false, as behind a TLS-terminating
load balancer); whether Django took a request for HTTPS shows in the Strict-Transport-Security
header, which it sends on secure requests only.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .servers import (
    COLLECTSTATIC_COMMAND,
    COLLECTSTATIC_ENV,
    Database,
    Process,
    base_env,
    free_port,
    kms_key,
    manage,
    start_gunicorn,
    start_nginx,
    wait_until,
    work_area,
    write_env_file,
)

pytestmark = [pytest.mark.deploy]

SLUG = "zanzibar-canary-tenant"  # a tenant slug no metric may carry


@dataclass
class Stack:
    app: str  # gunicorn, directly (as only the proxy reaches it in production)
    proxy: str  # nginx
    gunicorn: Process
    nginx: Process
    static_root: Path
    metrics_token: str


def collectstatic(static_root: Path, directory: Path) -> None:
    """Run deploy/Dockerfile's build step: collectstatic with DEBUG on and no env file, nothing else."""
    empty = directory / "build.env"
    empty.write_text("")
    env = base_env(**COLLECTSTATIC_ENV, STATIC_ROOT=str(static_root), SINATRA_ENV_FILE=str(empty))
    manage(*COLLECTSTATIC_COMMAND[2:], env=env)


@pytest.fixture(scope="session")
def stack(servers_available) -> Iterator[Stack]:
    with work_area("sinatra-stack-") as (workdir, database):
        yield from _stack(workdir, database)


def _stack(workdir: Path, database: Database) -> Iterator[Stack]:
    static_root = workdir / "static"
    collectstatic(static_root, workdir)
    proxy_port, app_port = free_port(), free_port()
    metrics_token = secrets.token_urlsafe(24)
    env_file = write_env_file(
        workdir / ".env.production",
        {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SINATRA_BASE_URL": f"http://127.0.0.1:{proxy_port}",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": database.url,
            "SINATRA_LOCAL_DEV_KMS_KEY": kms_key(),
            "STATIC_ROOT": str(static_root),
            "USE_X_FORWARDED_PROTO": "true",
            "SECURE_SSL_REDIRECT": "false",
            "LOG_FORMAT": "json",
            "SINATRA_METRICS_TOKEN": metrics_token,
            # Nothing here resolves a model; were it to, nothing listens on port 9.
            "SINATRA_ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
            "SINATRA_OPENROUTER_BASE_URL": "http://127.0.0.1:9/api/v1",
        },
    )
    env = base_env(SINATRA_ENV_FILE=str(env_file))
    manage("migrate", "--noinput", env=env)
    manage("create_tenant", SLUG, env=env)
    # Two workers of one thread each: two requests held in gunicorn would leave it no thread at all.
    gunicorn = start_gunicorn(
        "gunicorn", env=env, port=app_port, directory=workdir, GUNICORN_WORKERS="2", GUNICORN_THREADS="1"
    )
    try:
        nginx = start_nginx(
            port=proxy_port, upstream=f"127.0.0.1:{app_port}", static_root=static_root, directory=workdir
        )
    except BaseException:
        gunicorn.stop()
        raise
    yield Stack(gunicorn.extra["url"], nginx.extra["url"], gunicorn, nginx, static_root, metrics_token)
    nginx.stop()
    gunicorn.stop()


def lines_when(read, predicate, *, what: str) -> list[str]:
    """Wait until some line of `read()` satisfies `predicate` (logs are written as requests end)."""
    found: list[str] = []

    def check() -> bool:
        found[:] = [line for line in read().splitlines() if predicate(line)]
        return bool(found)

    wait_until(check, what=what, deadline=10)
    return found


# --- static files


def test_static_files_come_from_nginx_with_hashed_names_and_a_year_of_cache(stack):
    manifest = json.loads((stack.static_root / "staticfiles.json").read_text())["paths"]
    hashed = manifest["sinatra.css"]
    assert re.fullmatch(r"sinatra\.[0-9a-f]{12}\.css", hashed)

    page = httpx.get(f"{stack.app}/accounts/login/")
    assert page.status_code == 200
    assert f'href="/static/{hashed}"' in page.text  # pages link the hashed name

    served = httpx.get(f"{stack.proxy}/static/{hashed}")
    assert served.status_code == 200
    assert served.content == (stack.static_root / hashed).read_bytes()
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.headers["content-type"].startswith("text/css")
    assert served.headers["server"] == "nginx"  # nginx itself, not WhiteNoise behind it

    compressed = httpx.get(f"{stack.proxy}/static/{hashed}", headers={"Accept-Encoding": "gzip"})
    assert compressed.headers.get("content-encoding") == "gzip"  # the .gz collectstatic made
    assert compressed.content == served.content  # httpx decoded it

    # The unhashed copy may change with the next release: cached briefly only.
    unhashed = httpx.get(f"{stack.proxy}/static/sinatra.css")
    assert unhashed.status_code == 200
    assert "immutable" not in unhashed.headers["cache-control"]

    assert httpx.get(f"{stack.proxy}/static/nothing.{'0' * 12}.css").status_code == 404
    # None of that reached gunicorn.
    assert "/static/" not in stack.gunicorn.output()


# --- slow clients


def _post_slowly(port: int, body: bytes, finish: threading.Event, progress: list[int], index: int, answers: list):
    """POST `body` one byte at a time, holding back the last byte until `finish` is set; keep the answer."""
    # With a CSRF cookie, Django reads the whole form (for the token to compare) before it answers.
    head = (
        f"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Cookie: csrftoken={'a' * 32}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as client:
        client.sendall(head)
        sent = 0
        while sent < len(body) - 1 and not finish.is_set():
            client.sendall(body[sent : sent + 1])
            sent += 1
            progress[index] = sent
            finish.wait(0.1)
        finish.wait(20)  # bounded: the test sets it well before
        client.sendall(body[sent:])
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
        answers[index] = answer


def test_two_slow_clients_do_not_hold_up_a_third_request(stack):
    port = int(stack.proxy.rsplit(":", 1)[1])
    body = b"username=slow%40example.com&password=" + b"x" * 40
    finish = threading.Event()
    progress, answers = [0, 0], [b"", b""]
    senders = [
        threading.Thread(target=_post_slowly, args=(port, body, finish, progress, index, answers), daemon=True)
        for index in range(2)
    ]
    for sender in senders:
        sender.start()
    try:
        # Both are mid-body: were gunicorn reading them, both its worker threads would be stuck.
        wait_until(lambda: min(progress) >= 3, what="both slow clients sending", deadline=10)
        started = time.monotonic()
        try:
            third = httpx.get(f"{stack.proxy}/accounts/login/", timeout=10)
        except httpx.TimeoutException:
            pytest.fail("the third request got no answer in 10 s behind two slow clients")
        elapsed = time.monotonic() - started
        assert third.status_code == 200
        assert elapsed < 3, f"the third request took {elapsed:.1f} s behind two slow clients"
        assert max(progress) < len(body)  # and they were still sending
    finally:
        finish.set()
        for sender in senders:
            sender.join(timeout=30)
    # Once whole, their requests did reach Django, which read them (and refused their CSRF token).
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 403"), answer[:200]


# --- probes


@pytest.mark.parametrize("host", ["127.0.0.1", "10.20.30.40"], ids=["allowed-host", "load-balancer-ip"])
def test_probes_answer_through_the_proxy_whatever_the_host(stack, host):
    alive = httpx.get(f"{stack.proxy}/healthz", headers={"Host": host})
    assert alive.status_code == 200
    assert alive.json() == {"status": "ok"}
    ready = httpx.get(f"{stack.proxy}/readyz", headers={"Host": host})
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "kms": "ok", "cache": "ok"}}


# --- X-Forwarded-Proto


def test_a_client_cannot_claim_https_through_the_proxy(stack):
    claimed = httpx.get(f"{stack.proxy}/accounts/login/", headers={"X-Forwarded-Proto": "https"})
    assert claimed.status_code == 200
    assert "strict-transport-security" not in claimed.headers  # Django saw http: nginx overwrote it

    also = httpx.get(f"{stack.proxy}/accounts/login/", headers={"X-Forwarded-Ssl": "on", "X-Forwarded-Protocol": "ssl"})
    assert also.status_code == 200
    assert "strict-transport-security" not in also.headers

    # The same header from the proxy itself (here: straight to gunicorn) is believed.
    trusted = httpx.get(f"{stack.app}/accounts/login/", headers={"X-Forwarded-Proto": "https"})
    assert trusted.status_code == 200
    assert trusted.headers["strict-transport-security"].startswith("max-age=31536000")


# --- logs


def test_access_logs_carry_no_query_string_nor_install_token(stack):
    marker = f"querycanary{secrets.token_hex(4)}"
    token = f"installcanary{secrets.token_hex(8)}"
    httpx.get(f"{stack.proxy}/accounts/login/?next=/t/x/&token={marker}")
    httpx.get(f"{stack.proxy}/install/{token}/?again={marker}")
    httpx.get(f"{stack.proxy}/static/sinatra.css?v={marker}")

    gunicorn = lines_when(
        stack.gunicorn.output, lambda line: "/install/<token>/" in line, what="gunicorn's access line"
    )
    assert json.loads(gunicorn[-1])["message"] == "GET /install/<token>/ 404 " + gunicorn_ms(gunicorn[-1])
    lines_when(stack.gunicorn.errors, lambda line: "/install/<token>/" in line, what="the app's request line")
    lines_when(
        lambda: stack.nginx.extra["access_log"].read_text(), lambda line: "/install/" in line, what="nginx's line"
    )
    everything = stack.gunicorn.output() + stack.gunicorn.errors() + stack.nginx.extra["access_log"].read_text()
    assert marker not in everything
    assert token not in everything
    assert "?" not in stack.nginx.extra["access_log"].read_text()
    for line in stack.gunicorn.output().splitlines():
        assert re.fullmatch(r"[A-Z]+ /\S* \d{3} \d+ms", json.loads(line)["message"]), line


def gunicorn_ms(line: str) -> str:
    return json.loads(line)["message"].rsplit(" ", 1)[1]


def test_the_app_logs_one_json_line_per_request(stack):
    path = f"/t/{SLUG}/members/"
    httpx.get(f"{stack.proxy}{path}?page=2")
    [line] = lines_when(stack.gunicorn.errors, lambda line: f'"path": "{path}"' in line, what="the request line")
    record = json.loads(line)
    assert record["logger"] == "sinatra.request"
    assert record["method"] == "GET"
    assert record["status"] == 302  # to the sign-in page
    assert record["duration_ms"] >= 0
    assert record["message"].startswith(f"GET {path} 302 ")


def test_every_line_gunicorn_and_the_app_write_is_json(stack):
    httpx.get(f"{stack.proxy}/healthz")
    lines_when(stack.gunicorn.output, lambda line: "/healthz" in line, what="an access line")
    output = stack.gunicorn.output() + stack.gunicorn.errors()
    lines = [line for line in output.splitlines() if line.strip()]
    assert any('"Booting worker' in line for line in lines)  # gunicorn's own lines are there too
    for line in lines:
        assert isinstance(json.loads(line), dict), line


def test_a_refused_host_is_one_log_line_and_counted(stack):
    before = metric(scrape(stack.app), "sinatra_refused_host_headers_total")
    host = f"10.9.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    refused = httpx.get(f"{stack.proxy}/accounts/login/", headers={"Host": host})
    assert refused.status_code == 400
    lines = lines_when(stack.gunicorn.errors, lambda line: host in line, what="the refusal's line")
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["logger"] == "django.security.DisallowedHost"
    assert "exception" not in record
    assert "Traceback" not in stack.gunicorn.errors()
    assert metric(scrape(stack.app), "sinatra_refused_host_headers_total") == before + 1


# --- metrics


def scrape(url: str, **headers: str) -> str:
    response = httpx.get(f"{url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def metric(text: str, name: str, **labels: str) -> float:
    """Return the sum of the samples called `name` whose labels include `labels`."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def test_metrics_count_responses_of_every_worker_and_name_no_tenant(stack):
    before = scrape(stack.app)
    for _ in range(6):  # spread over both workers
        assert httpx.get(f"{stack.proxy}/t/{SLUG}/credentials/").status_code == 302
    api = httpx.post(f"{stack.proxy}/api/v1/resolve", json={"tenant": SLUG, "model": "opus"})
    assert api.status_code == 401
    after = scrape(stack.app)

    def moved(**labels: str) -> float:
        name = "sinatra_http_responses_total"
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert moved(area="web", status="302") == 6
    assert moved(area="api", status="401") == 1
    assert metric(after, "sinatra_http_request_duration_seconds_count", area="api") >= 1
    assert SLUG not in after
    assert "/t/" not in after


def test_metrics_through_the_proxy_need_the_token(stack):
    refused = httpx.get(f"{stack.proxy}/metrics")
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    wrong = httpx.get(f"{stack.proxy}/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403
    scraped = scrape(stack.proxy, Authorization=f"Bearer {stack.metrics_token}")
    assert "sinatra_http_responses_total" in scraped
