"""`skillbridge kcat ARGS`: the system's kcat, with a librdkafka that can talk to Tansu.

Debian bookworm's kcat links librdkafka 2.0.2, which skips the tagged fields of an
ApiVersions v3 answer wrongly; Tansu sends all four (a Kafka broker omits the defaults), so
that kcat gives up at once ("ApiVersionRequest failed: Local: Read underflow"). The
confluent-kafka wheel carries a current, ABI-compatible librdkafka: the loader is pointed at
it. Against a real cluster plain `kcat` works as it is.

When KAFKA_SECURITY_PROTOCOL etc. are set (shared/settings.py) kcat gets the same security
properties as the services, from a file readable by the operator only (`-F`), so the
password never appears on a command line.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from shared.kafka import librdkafka_config

LIBRARY = "librdkafka.so.1"


class KcatUnavailable(RuntimeError):
    pass


def wheel_librdkafka() -> Path:
    """The librdkafka shipped inside the confluent-kafka wheel (auditwheel renames it)."""
    spec = importlib.util.find_spec("confluent_kafka")
    if spec is None or spec.origin is None:
        raise KcatUnavailable("confluent-kafka is not installed (pip install -e .)")
    libs = Path(spec.origin).parent.parent / "confluent_kafka.libs"
    found = sorted(libs.glob("librdkafka-*.so.1"))
    if not found:
        raise KcatUnavailable(f"no librdkafka in {libs}")
    return found[0]


def library_dir(cache: Path) -> Path:
    """A folder where `librdkafka.so.1` (the name kcat asks the loader for) is the wheel's."""
    cache.mkdir(parents=True, exist_ok=True)
    link = cache / LIBRARY
    target = wheel_librdkafka()
    if not link.is_symlink() or link.resolve() != target.resolve():
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    return cache


def security_file(cache: Path, config: dict[str, str] | None = None) -> Path | None:
    """librdkafka properties for `-F`, mode 0600; None when the broker needs none."""
    config = librdkafka_config() if config is None else config
    if config.get("security.protocol", "PLAINTEXT") == "PLAINTEXT":
        return None
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / "security.properties"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.writelines(f"{name}={value}\n" for name, value in config.items())
    return path


def command(
    args: Sequence[str], cache: Path, config: dict[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    kcat = shutil.which("kcat")
    if kcat is None:
        raise KcatUnavailable("kcat is not installed (Debian: apt-get install kcat)")
    loader = os.pathsep.join(
        p for p in (str(library_dir(cache)), os.environ.get("LD_LIBRARY_PATH", "")) if p
    )
    properties = security_file(cache, config)
    security = ["-F", str(properties)] if properties else []
    return [kcat, *security, *args], {**os.environ, "LD_LIBRARY_PATH": loader}


def run(args: Sequence[str], cache: Path = Path("var/kcat")) -> int:
    argv, env = command(args, cache)
    return subprocess.run(argv, env=env, check=False).returncode
