#!/usr/bin/env bash
# Install what a fresh Debian machine lacks for the demo and the tests: Debian packages
# (MariaDB + Galera, Prometheus, Alertmanager, tools), the exporter with its test extras and the
# lab (`galera-lab`, which `make demo` and the tests need; the product ships without it).
# Idempotent: apt runs only when a package is missing; pip skips what is already satisfied.
# Usage: scripts/install-deps.sh [--runtime-only]
set -euo pipefail
cd "$(dirname "$0")/.."

runtime=(mariadb-server galera-4 mariadb-backup rsync socat prometheus prometheus-alertmanager curl make)
# victoria-metrics (1.79.5) ships victoria-metrics, vmagent and vmalert for tests/scale; the tests
# start their own processes on loopback ports with data under tmp, never the packaged service.
testing=(prometheus-mysqld-exporter logrotate buildah debootstrap acl openssl victoria-metrics)
packages=("${runtime[@]}")
[ "${1:-}" = "--runtime-only" ] || packages+=("${testing[@]}")

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  # policy-rc.d on these machines keeps the packaged services from starting; the lab starts
  # its own processes on loopback.
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python3 -m pip --version >/dev/null 2>&1 || { echo "python3 with pip is required" >&2; exit 1; }
extras="[test]"
[ "${1:-}" = "--runtime-only" ] && extras=""
# pip itself skips what is already satisfied; an editable install keeps the checkout live.
# Two distributions: the exporter (the product) and the lab (lab/pyproject.toml, kept out of the
# product), in one pip run so the lab's galera-exporter requirement is met by this checkout.
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
  -e ".${extras}" -e ./lab
echo "dependencies OK"
