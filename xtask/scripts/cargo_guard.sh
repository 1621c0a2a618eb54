# Sourced by xtask/scripts/wheel_check.sh and xtask/oracle/catalogue.sh: the workspace's one target directory, and a guard on what a cargo
# call (or a tool that runs cargo: maturin, cargo install) compiles.

# The target directory as cargo resolves it (CARGO_TARGET_DIR, a cargo config's build.target-dir, else ./target): the
# one the README's first command and xtask use.
cargo_target_dir() {
  local dir
  dir="$(cargo metadata --format-version 1 --no-deps --offline | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
  [ -n "$dir" ] || { echo "cargo metadata did not name the target directory" >&2; return 1; }
  echo "$dir"
}

# The workspace's package names, one per line.
cargo_workspace_members() {
  cargo metadata --format-version 1 --no-deps --offline \
    | grep -o '"name":"[^"]*","version":"[^"]*","id":"path+file' | sed 's/"name":"\([^"]*\)".*/\1/'
}

# compiles_only ALLOWED WHY CMD...: runs CMD (its stdout left as it is, its stderr shown as it comes, where cargo writes
# its `Compiling` lines) and fails when CMD fails or compiled a crate not among ALLOWED (names, one per line); WHY
# says what such a compile means.
compiles_only() {
  local allowed="$1" why="$2"
  shift 2
  local log
  log="$(mktemp)"
  if ! { "$@" 2>&1 1>&3 | tee "$log" >&2; } 3>&1; then
    rm -f "$log"
    echo "error: \`$*\` failed" >&2
    return 1
  fi
  local foreign
  foreign="$(sed -n 's/^ *Compiling \([^ ]*\) v.*/\1/p' "$log" | grep -vxF -f <(printf '%s\n' "$allowed") || true)"
  rm -f "$log"
  if [ -n "$foreign" ]; then
    echo "error: \`$*\` compiled $why:" $foreign >&2
    return 1
  fi
}
