"""Sandbox images: the offline base image and content-addressed derived images.

The base image ``agentlab/base:bookworm`` is built without any container registry: a
``debootstrap --variant=minbase`` Debian bookworm (python3, pytest, git, patch, procps) from the
mirror this machine's apt sources name, streamed into ``docker import``. With ``--from IMAGE``
and a registry that answers, it is a ``docker build`` on top of that image instead.

Derived images (per repository environment, per task instance) are described by an
:class:`ImageSpec` and tagged by a hash of it, so the same spec is built once and reused.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import Field

from agentlab.errors import ConfigError, SandboxError
from agentlab.sandbox import docker as engine
from agentlab.types import Record

log = logging.getLogger(__name__)

BASE_IMAGE = "agentlab/base:bookworm"
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-pytest", "git", "patch", "procps", "coreutils")
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
_IMPORT_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["/bin/bash"]',
    "LABEL agentlab.image=base",
)


# ------------------------------------------------------------------------------ apt mirror


def _sources_files(roots: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        if root.is_file():
            files.append(root)
        elif root.is_dir():
            # apt itself reads only *.list and *.sources; anything else is disabled.
            files += sorted(p for p in root.iterdir() if p.suffix in (".list", ".sources"))
    return files


def _one_line_entries(text: str) -> Iterator[tuple[str, list[str]]]:
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        line = re.sub(r"\[[^\]]*\]", " ", line)  # drop [arch=... signed-by=...]
        parts = line.split()
        if len(parts) >= 3:
            yield parts[1], [parts[2]]


def _deb822_entries(text: str) -> Iterator[tuple[str, list[str]]]:
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            yield uri, fields.get("suites", "").split()


def find_mirror(suite: str = BASE_SUITE, roots: tuple[Path, ...] = APT_SOURCES) -> str:
    """The first ``deb`` mirror URI in the apt sources that serves ``suite`` itself.

    Both the one-line (``sources.list``) and deb822 (``*.sources``) formats are read.
    """
    for path in _sources_files(roots):
        text = path.read_text(errors="replace")
        parse = _deb822_entries if path.suffix == ".sources" else _one_line_entries
        for uri, suites in parse(text):
            if suite in suites:
                return uri.rstrip("/")
    raise ConfigError(
        f"no apt source serves {suite!r} in {', '.join(map(str, roots))}; add a Debian mirror "
        "there or pass --from IMAGE"
    )


# ------------------------------------------------------------------------------ base image


def _rootfs_chunks(root: Path) -> Iterator[bytes]:
    """Stream ``tar -C root -c .`` so the rootfs never sits in memory whole."""
    proc = subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(root), "-c", "."], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    try:
        while chunk := proc.stdout.read(1 << 20):
            yield chunk
    finally:
        proc.stdout.close()
        if proc.wait() != 0:
            raise SandboxError(f"tar of {root} failed with exit code {proc.returncode}")


def _debootstrap(root: Path, mirror: str) -> None:
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not Path(debootstrap).exists():
        raise ConfigError("debootstrap is not installed: `apt-get install debootstrap`")
    cmd = [
        debootstrap,
        "--variant=minbase",
        f"--include={','.join(BASE_PACKAGES)}",
        BASE_SUITE,
        str(root),
        mirror,
    ]
    log.info("running %s", " ".join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise SandboxError(f"debootstrap from {mirror} failed:\n{tail}")
    # Package caches are dead weight in every sandbox.
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (root / junk).glob("*"):
            if item.is_file():
                item.unlink()


def build_base(*, from_image: str | None = None, force: bool = False, tag: str = BASE_IMAGE) -> str:
    """Build the base sandbox image unless it exists (blocking; 1-2 minutes)."""
    if not force and engine.image_exists(tag):
        log.info("%s exists; skipping (use --force to rebuild)", tag)
        return tag
    if from_image:
        if not engine.try_pull(from_image):
            raise SandboxError(
                f"cannot pull {from_image!r} (no registry answers?); build offline without --from"
            )
        steps = (
            "RUN apt-get update && apt-get install -y --no-install-recommends "
            + " ".join(BASE_PACKAGES)
            + " && rm -rf /var/lib/apt/lists/*",
        )
        spec = ImageSpec(parent=from_image, setup=steps, network=True)
        return _build(spec, tag, extra_labels={"agentlab.image": "base"})
    mirror = find_mirror()
    with tempfile.TemporaryDirectory(prefix="agentlab-rootfs-") as tmp:
        root = Path(tmp) / "root"
        _debootstrap(root, mirror)
        return engine.import_rootfs(_rootfs_chunks(root), tag, _IMPORT_CHANGES)


# ------------------------------------------------------------------------------ derived


class ImageSpec(Record):
    """A derived image: a parent, files to add and shell steps to run, hashed into its tag."""

    parent: str = BASE_IMAGE
    name: str = Field(default="env", pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    setup: tuple[str, ...] = ()
    files: dict[str, str] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    workdir: str | None = None
    network: bool = False
    labels: dict[str, str] = Field(default_factory=dict)

    def digest(self) -> str:
        """Content hash of everything that shapes the image (12 hex digits)."""
        payload = self.model_dump(exclude={"labels"})
        blob = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def tag(self) -> str:
        return f"agentlab/{self.name}:{self.digest()}"


def _dockerfile(spec: ImageSpec) -> str:
    lines = [f"FROM {spec.parent}"]
    lines += [f"ENV {k}={json.dumps(v)}" for k, v in sorted(spec.env.items())]
    lines += [f"COPY files/{i} {json.dumps(dest)}" for i, dest in enumerate(spec.files)]
    lines += [f"RUN {step}" for step in spec.setup]
    if spec.workdir:
        lines.append(f"WORKDIR {spec.workdir}")
    return "\n".join(lines) + "\n"


def _context(spec: ImageSpec) -> bytes:
    buf = io.BytesIO()
    entries = {"Dockerfile": _dockerfile(spec).encode()}
    for i, content in enumerate(spec.files.values()):
        entries[f"files/{i}"] = content.encode()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _build(spec: ImageSpec, tag: str, extra_labels: dict[str, str] | None = None) -> str:
    labels = {"agentlab.image": spec.name, "agentlab.spec": spec.digest(), **spec.labels}
    labels.update(extra_labels or {})
    return engine.build_context(_context(spec), tag, labels=labels, network=spec.network)


_build_locks: dict[str, asyncio.Lock] = {}


async def ensure_image(spec: ImageSpec, *, force: bool = False) -> str:
    """Return the tag of ``spec``'s image, building it only if it is not present yet.

    Concurrent calls for the same spec in one process build once.
    """
    tag = spec.tag()
    lock = _build_locks.setdefault(tag, asyncio.Lock())
    async with lock:
        if not force and await asyncio.to_thread(engine.image_exists, tag):
            return tag
        if not await asyncio.to_thread(engine.image_exists, spec.parent):
            raise SandboxError(
                f"parent image {spec.parent!r} of {tag} is missing; build or pull it first"
            )
        return await asyncio.to_thread(_build, spec, tag)


# ------------------------------------------------------------------------------ listing


def list_images() -> list[dict[str, object]]:
    """agentlab images with tag, id, size in bytes, age in seconds (blocking)."""
    now = time.time()
    rows = engine.list_images()
    for row in rows:
        row["age_s"] = max(0.0, now - float(row["created"]))
    return sorted(rows, key=lambda r: str(r["tag"]))


def prune_images(older_than_s: float = 0.0, *, keep_base: bool = True) -> list[str]:
    """Remove agentlab images older than ``older_than_s``; returns the tags removed."""
    removed = []
    for row in list_images():
        tag = str(row["tag"])
        if keep_base and tag == BASE_IMAGE:
            continue
        if float(row["age_s"]) >= older_than_s and engine.remove_image(tag):  # type: ignore[arg-type]
            removed.append(tag)
    return removed


def env_default_image() -> str:
    """The image sandboxes use unless told otherwise (AGENTLAB_IMAGE overrides)."""
    return os.environ.get("AGENTLAB_IMAGE", BASE_IMAGE)
