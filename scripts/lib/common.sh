# Shared helpers for the bash scripts in scripts/, tests/ and bench/. Source it; it defines functions and
# variables only (no side effects beyond putting cargo's bin directory on PATH).
#
#   REPO_ROOT      the repository root (this file lives in scripts/lib/)
#   CRATE          the crate's lib name, which names the wasm and glue files
#   step MSG       prints one progress line "== [Ns] MSG" (seconds since the script started)
#   die MSG        prints "error: MSG" to stderr and exits 1
#   lock_version NAME   the version of crate NAME in Cargo.lock (empty if absent)
#   crate_version, pkg_tarball, unpack_pkg_into DIR   the package version, its packed tarball, installing it

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CRATE=aicostmanager_edge
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

_t0=$SECONDS
step() { echo "== [$((SECONDS - _t0))s] $*"; }
die() { echo "error: $*" >&2; exit 1; }

lock_version() {
  # Cargo.lock lists `name = "x"` then `version = "y"` on the next line for every package.
  awk -v want="name = \"$1\"" '$0 == want { getline; gsub(/^version = "|"$/, ""); print; exit }' "$REPO_ROOT/Cargo.lock"
}

# The package version: the crate's version in Cargo.toml (what scripts/build-pkg writes into pkg/package.json).
crate_version() {
  (cd "$REPO_ROOT" && cargo metadata --no-deps --format-version 1 --locked) |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
      console.log(JSON.parse(s).packages.find(p=>p.name==="aicostmanager-edge").version)})'
}

# The tarball scripts/build-pkg packs; dies with a hint when it is missing.
pkg_tarball() {
  local tgz="$REPO_ROOT/target/npm/aicostmanager-edge-$(crate_version).tgz"
  [ -f "$tgz" ] || die "$tgz missing: run scripts/build-pkg first"
  echo "$tgz"
}

# unpack_pkg_into DIR: installs the packed tarball as DIR/node_modules/aicostmanager-edge, the way npm would
# (npm install <tgz> extracts the same files), without touching the network.
unpack_pkg_into() {
  local tgz; tgz=$(pkg_tarball) || exit 1
  rm -rf "$1/node_modules/aicostmanager-edge"
  mkdir -p "$1/node_modules/aicostmanager-edge"
  tar xzf "$tgz" -C "$1/node_modules/aicostmanager-edge" --strip-components=1
}
