"""Browser tests: Playwright driving Debian's chromium against pytest-django's live server.

The app runs in a thread of this process (`live_server`), so settings overrides apply to it;
the providers are fake HTTP servers on 127.0.0.1 (fake_providers.py). Every page the browser
saw, every response body, the server's log and the database can be searched for keys.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, Response, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from providers import http as provider_clients
from tests.helpers import PROJECT_DIR

from .fake_providers import FakeAnthropic, FakeOpenRouter, fake_providers

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    # Without these Chromium reaches for Google's hosts (updates, sync, field trials), which
    # fails slowly on a closed network.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = PROJECT_DIR / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}


# --- Screenshots: taken at each step, kept only when the test fails.


REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    if report.failed and report.when == "call":
        shots = item.funcargs.get("screenshots") if hasattr(item, "funcargs") else None
        if isinstance(shots, Screenshots):
            saved = shots.on_failure()
            report.sections.append(("browser screenshots", f"saved in {shots.directory}: {', '.join(saved)}"))
    return report


def artifact_name(item: pytest.Item) -> str:
    """Return a directory name for a test: its name, with anything odd in a path replaced."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name).strip("_")


class Screenshots:
    """Screenshots of a test's pages in test-artifacts/<test name>/: one per step, and the last state."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.pages: list[Page] = []
        self.count = 0

    def take(self, page: Page, step: str) -> Path:
        """Save what the page shows now, as NN-step.png."""
        self.count += 1
        path = self.directory / f"{self.count:02d}-{re.sub(r'[^A-Za-z0-9_-]+', '-', step)}.png"
        self.directory.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=path, full_page=True)
        return path

    def on_failure(self) -> list[str]:
        """Save every open page as the test left it; return the names of all the files kept."""
        for page in self.pages:
            if not page.is_closed():
                try:
                    self.take(page, "at-failure")
                except Exception as exc:  # a screenshot must not hide the real failure
                    (self.directory / "at-failure.txt").write_text(f"no screenshot: {exc}\n")
        return sorted(path.name for path in self.directory.glob("*")) if self.directory.exists() else []


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Iterator[Screenshots]:
    shots = Screenshots(ARTIFACTS / artifact_name(request.node))
    shutil.rmtree(shots.directory, ignore_errors=True)
    yield shots
    reports = request.node.stash.get(REPORTS, {})
    passed = "call" in reports and all(report.passed for report in reports.values())
    if passed and not os.environ.get("E2E_KEEP_SCREENSHOTS"):  # =1 keeps them, to look at the pages
        shutil.rmtree(shots.directory, ignore_errors=True)


# --- The browser: one per package run, a fresh context (cookies, storage) per test.


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"The browser tests need Debian's chromium at {CHROMIUM}: install it with "
            "`apt-get install -y chromium` (.ci/run and make test do); never a browser downloaded by Playwright.",
            pytrace=False,
        )
    # Playwright's sync API keeps an asyncio loop running in this thread while it is started,
    # and Django refuses ORM calls from a thread with a running loop (SynchronousOnlyOperation).
    # The test code is plain synchronous code all the same, so the check is off while the
    # browser runs, and only then (package scope: other tests never run under it).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Traffic:
    """Everything the browser asked for and was given: request URLs, response bodies, page DOMs."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.requests: list[str] = []
        self.bodies: list[tuple[str, bytes]] = []
        self.doms: list[tuple[str, str]] = []

    def watch(self, page: Page) -> None:
        page.on("request", self._request)
        page.on("response", self._response)
        page.on("load", self._load)

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _response(self, response: Response) -> None:
        if 300 <= response.status < 400:
            return  # a redirect has no body the browser keeps (Django sends none)
        try:
            self.bodies.append((response.url, response.body()))
        except Exception as exc:  # recorded, so the test sees what it could not read
            self.bodies.append((response.url, f"<body unavailable: {exc}>".encode()))

    def _load(self, page: Page) -> None:
        # When the test has already moved on to the next page, this one's response body is kept all the same.
        with contextlib.suppress(PlaywrightError):
            self.record_dom(page)

    def record_dom(self, page: Page) -> None:
        """Keep the page's DOM as it is now (form values typed in are properties, not in it)."""
        self.doms.append((page.url, page.content()))

    def foreign_requests(self) -> list[str]:
        """Return the requests that went anywhere but the live server (a CDN, Google, ...)."""
        return [url for url in self.requests if not url.startswith(self.origin + "/")]

    def everything(self) -> bytes:
        """Return every response body and every DOM seen, as one blob to search."""
        parts = [body for _url, body in self.bodies]
        parts.extend(dom.encode() for _url, dom in self.doms)
        return b"\n".join(parts)


class OpenedPage:
    """A page in its own browser context, with its traffic recorded."""

    def __init__(self, context: BrowserContext, page: Page, traffic: Traffic) -> None:
        self.context = context
        self.page = page
        self.traffic = traffic


@pytest.fixture
def open_page(browser: Browser, live: str, screenshots: Screenshots) -> Iterator[Callable[..., OpenedPage]]:
    """Open a page in a fresh context (no cookies); requests to other hosts are recorded and refused."""
    contexts: list[BrowserContext] = []

    def open_(**context_options) -> OpenedPage:
        context_options.setdefault("viewport", DESKTOP)
        context = browser.new_context(**context_options)
        contexts.append(context)
        traffic = Traffic(live)
        # Recorded by Traffic first ("request" fires before routing), then refused: a test never
        # reaches the internet, and foreign_requests() still tells what the page asked for.
        context.route(lambda url: not url.startswith(live + "/"), lambda route: route.abort())
        page = context.new_page()
        traffic.watch(page)
        screenshots.pages.append(page)
        return OpenedPage(context, page, traffic)

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def opened(open_page) -> OpenedPage:
    """A page at a desktop size."""
    return open_page()


# --- The server side: live server, fake providers, the server's log, the database.


@pytest.fixture(autouse=True)
def _no_waits(monkeypatch) -> None:
    """Provider retries do not sleep."""
    monkeypatch.setattr(provider_clients, "sleep", lambda seconds: None)


@pytest.fixture
def fakes() -> Iterator[tuple[FakeAnthropic, FakeOpenRouter]]:
    with fake_providers() as both:
        yield both


@pytest.fixture
def anthropic(fakes) -> FakeAnthropic:
    return fakes[0]


@pytest.fixture
def openrouter(fakes) -> FakeOpenRouter:
    return fakes[1]


@pytest.fixture
def live(live_server, settings, fakes) -> str:
    """Return the live server's origin, with install links built on it and the fake providers in use."""
    anthropic, openrouter = fakes
    settings.SINATRA_BASE_URL = live_server.url
    settings.SINATRA_ANTHROPIC_BASE_URL = anthropic.base_url
    settings.SINATRA_OPENROUTER_BASE_URL = openrouter.base_url
    # The suite runs production-like (DEBUG off), so the session and CSRF cookies are `Secure`.
    # Chromium treats http://localhost as a secure context and keeps Secure cookies from it,
    # so they stay on here: the browser tests run with the cookie settings production has.
    assert settings.SESSION_COOKIE_SECURE
    assert settings.CSRF_COOKIE_SECURE
    return live_server.url


class ServerLog(logging.Handler):
    """Every record logged in this process (the live server's threads included), formatted."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(threadName)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.lines.append(repr(record.args))  # what the code handed to logging, as given

    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def server_log(monkeypatch) -> Iterator[ServerLog]:
    """Capture the log at DEBUG, as the code wrote it.

    The console handler's RedactKeysFilter rewrites records in place before any later handler
    sees them: it is taken off, so a test proves the code logs no key, not that the filter works.
    """
    root = logging.getLogger()
    for handler in root.handlers:
        monkeypatch.setattr(handler, "filters", [])
    names = ("", "django", "httpx", "httpcore", "routing", "credentials", "tenants", "axes")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    handler = ServerLog()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
