#!/usr/bin/env bash
# Build the base sandbox image agentlab/base:bookworm offline: debootstrap a minimal Debian
# bookworm (python3, pytest, git, patch, procps) from the mirror in this machine's apt sources
# and `docker import` it. Skips if the image exists; pass --force to rebuild, or
# --from IMAGE to build on a pullable image instead. Takes 1-3 minutes.
set -euo pipefail
exec python3 -m agentlab sandbox build-base "$@"
