#!/usr/bin/env bash
# The README's first command as a newcomer runs it: a clone of its own (the committed tree), a target directory of its
# own (a cold build unless GLUE_RS_FIRST_TARGET names a kept one) and a PATH without protoc, Java or Python, built of
# symlinks to everything else on PATH (cc, ld, git and cargo stay). Prints the command's wall time.
set -euo pipefail
cd "$(dirname "$0")/../.."

fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
git clone --quiet --no-hardlinks . "$fresh/glue-rs"
mkdir "$fresh/bin"
IFS=: read -r -a path_dirs <<< "$PATH"
for dir in "${path_dirs[@]}"; do
  [ -d "$dir" ] || continue
  for exe in "$dir"/*; do
    name="$(basename "$exe")"
    case "$name" in
      protoc* | java | javac | jshell | python | python3 | python3.* | pip | pip3 | pip3.*) continue ;;
    esac
    if [ -f "$exe" ] && [ -x "$exe" ] && [ ! -e "$fresh/bin/$name" ]; then
      ln -s "$exe" "$fresh/bin/$name"
    fi
  done
done
for tool in protoc java javac python3 python; do
  if PATH="$fresh/bin" command -v "$tool" >/dev/null 2>&1; then
    echo "error: $tool is still on the bare PATH" >&2
    exit 1
  fi
done

target="${GLUE_RS_FIRST_TARGET:-$fresh/glue-rs/target}"
start=$SECONDS
(
  cd "$fresh/glue-rs"
  env -u CARGO_TARGET_DIR -u RUSTC_WRAPPER PATH="$fresh/bin" CARGO_TARGET_DIR="$target" \
    cargo run --locked -p glue-cli -- build --project-dir examples/glue_shop
)
echo "-- the README's first command ($( [ -n "${GLUE_RS_FIRST_TARGET:-}" ] && echo "target $target" || echo cold )): $((SECONDS - start)) s"
