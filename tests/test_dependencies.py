"""Every installed package is pinned, with hashes, in the compiled requirement files (README, "Dependencies")."""

from __future__ import annotations

import re
from importlib import metadata

from tests.helpers import PROJECT_DIR

LOCKS = ("requirements.txt", "requirements-dev.txt")
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+) \\$")
HASH = re.compile(r"^ {4}--hash=sha256:[0-9a-f]{64}")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(file: str) -> dict[str, tuple[str, int]]:
    """Return {package: (version, number of hashes)} of a compiled requirement file."""
    packages: dict[str, tuple[str, int]] = {}
    current = None
    for line in (PROJECT_DIR / file).read_text().splitlines():
        if line.startswith("#") or not line.strip() or line.strip().startswith("# via") or line.startswith("    #"):
            continue
        if match := REQUIREMENT.match(line):
            current = canonical(match[1])
            packages[current] = (match[2], 0)
        elif HASH.match(line) and current is not None:
            version, hashes = packages[current]
            packages[current] = (version, hashes + 1)
        else:
            raise AssertionError(f"{file}: a line that is neither a pin nor a hash: {line!r}")
    return packages


def test_every_locked_package_has_an_exact_version_and_hashes():
    for file in LOCKS:
        packages = locked(file)
        assert packages, file
        assert [name for name, (_, hashes) in packages.items() if hashes == 0] == [], file


def test_the_two_locks_agree_on_every_shared_package():
    runtime, dev = locked("requirements.txt"), locked("requirements-dev.txt")

    assert {name: runtime[name][0] for name in runtime.keys() & dev.keys()} == {
        name: dev[name][0] for name in runtime.keys() & dev.keys()
    }


def test_every_installed_package_is_locked_at_its_installed_version():
    pins = {**locked("requirements-dev.txt"), **locked("requirements.txt")}
    installed = {canonical(dist.metadata["Name"]): dist.version for dist in metadata.distributions()}

    unpinned = sorted(name for name in installed if name not in pins and name not in {"wheel"})
    assert unpinned == [], "installed but not in a lock: run `make lock` (README, Dependencies)"
    assert {name: version for name, version in installed.items() if name in pins and pins[name][0] != version} == {}


def test_the_inputs_pin_exact_versions():
    for file in ("requirements.in", "requirements-dev.in"):
        for line in (PROJECT_DIR / file).read_text().splitlines():
            if line.strip() and not line.startswith(("#", "-c ")):
                assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\-\[\]]*==\S+", line.strip()), f"{file}: {line!r}"
