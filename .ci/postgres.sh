#!/usr/bin/env bash
# Make PostgreSQL server binaries available to the tests; `make test` runs this before pytest.
# The tests (tests/pg_server.py) then start a private throwaway cluster themselves, as the
# `postgres` system user when run as root. Installs Debian's `postgresql` package when no
# initdb is found (needs root or password-less sudo, and apt). Where it cannot install, it says
# so and exits 0: the PostgreSQL tests then skip with one line (CI sets DIHYA_REQUIRE_POSTGRES=1
# so that they fail instead). A failed installation attempt fails this script.
set -euo pipefail

find_initdb() {
    local found
    found=$(ls -1 /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$found" ]; then found=$(command -v initdb || true); fi
    printf '%s' "$found"
}

initdb=$(find_initdb)
if [ -n "$initdb" ]; then
    echo "postgres-setup: using $("$initdb" --version) ($initdb)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "postgres-setup: no initdb and no apt-get here: the PostgreSQL tests will skip" >&2
    exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo="sudo -n"
    else
        echo "postgres-setup: not root and no sudo: cannot install postgresql; the PostgreSQL" \
            "tests will skip (apt-get install postgresql to run them)" >&2
        exit 0
    fi
fi
echo "postgres-setup: installing Debian's postgresql package (server binaries only)..."
export DEBIAN_FRONTEND=noninteractive
# The tests run their own cluster: do not create (and start) the distribution's main one.
$sudo mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" |
    $sudo tee /etc/postgresql-common/createcluster.d/dihya-tests.conf >/dev/null
start=$(date +%s)
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
initdb=$(find_initdb)
if [ -z "$initdb" ]; then
    echo "postgres-setup: postgresql installed but no initdb found" >&2
    exit 1
fi
echo "postgres-setup: installed $("$initdb" --version) in $(($(date +%s) - start)) s"
