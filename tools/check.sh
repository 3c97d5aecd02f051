#!/usr/bin/env bash
# Structural checks run by `make test`:
#  1. each layer includes only the layers below it (STYLE.md's table);
#  2. the shared library exports only grove_* symbols;
#  3. every public header compiles on its own, as C11 and as C++.
# Usage: tools/check.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: tools/check.sh BUILD_DIR}
cd "$(dirname "$0")/.."
fail=0

# 1. Layer rule: which src/ folders each layer may include.
declare -A allowed=(
  [base]="base"
  [arch]="base arch"
  [core]="base arch core"
  [io]="base core io"
  [behaviours]="base core io behaviours"
  [observe]="base core io behaviours observe"
)
for layer in "${!allowed[@]}"; do
  [ -d "src/$layer" ] || continue
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$line")
    top=${inc%%/*}
    [ "$top" = "$inc" ] && continue          # same-folder include
    [ "$top" = grove ] && continue           # public headers
    if ! grep -qw "$top" <<<"${allowed[$layer]}"; then
      echo "layer violation: $file includes $inc ($layer may use: ${allowed[$layer]})"
      fail=1
    fi
    # Other layers reach a layer only through its interface header.
    if [ "$top" != "$layer" ] && [ "$top" != base ]; then
      case "$inc" in
        arch/arch.h|core/core.h|io/io.h|behaviours/behaviours.h) ;;
        *) echo "interface violation: $file includes $inc"; fail=1 ;;
      esac
    fi
  done < <(grep -rn '#include "' "src/$layer" --include='*.[ch]' || true)
done
if grep -rn '#include "' include | grep -v '#include "grove' | grep -v 'include/grove.h:.*"grove/' | grep -qv '#include "[a-z_]*\.h"'; then
  echo "public headers include something outside include/"; fail=1
fi

# 2. Exported symbols of the shared library.
so=$(ls "$build"/libgrove.so* 2>/dev/null | head -n1 || true)
if [ -n "$so" ]; then
  bad=$(nm -D --defined-only "$so" | awk '$2 ~ /[TDBRVW]/ {print $3}' |
        grep -vE '^grove_[a-z0-9]' | grep -vE '^(_init|_fini|_edata|_end|__bss_start)$' || true)
  if [ -n "$bad" ]; then
    echo "symbols exported without the grove_ prefix:"; echo "$bad"; fail=1
  fi
else
  echo "no shared library in $build"; fail=1
fi

# 3. Each public header on its own.
for h in include/grove.h include/grove/*.h; do
  rel=${h#include/}
  if ! echo "#include \"$rel\"" | cc -std=c11 -Wall -Wextra -Werror -pedantic \
       -fsyntax-only -Iinclude -x c - 2>/tmp/grove-hdr.err; then
    echo "header does not compile alone (C11): $h"; cat /tmp/grove-hdr.err; fail=1
  fi
  if command -v c++ >/dev/null && ! echo "#include \"$rel\"" |
       c++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only -Iinclude -x c++ - \
       2>/tmp/grove-hdr.err; then
    echo "header does not compile alone (C++): $h"; cat /tmp/grove-hdr.err; fail=1
  fi
done

# 4. The installed package: pkg-config and find_package(Grove) both build
#    and run a program against it.
inst=$(mktemp -d)
trap 'rm -rf "$inst"' EXIT
if cmake --install "$build" --prefix "$inst/p" >/dev/null 2>&1; then
  cat > "$inst/t.c" <<'C'
#include <grove.h>
#include <string.h>
static void hi(void *a) { (void)a; }
int main(void) {
    grove_reason_t r;
    return grove_run(hi, 0, &r) == 0 && r.kind == GROVE_EXIT_NORMAL &&
           strcmp(grove_version_string(), "0.0.0") != 0 ? 0 : 1;
}
C
  pc="$inst/p/lib/pkgconfig"
  [ -d "$pc" ] || pc="$inst/p/lib64/pkgconfig"
  if ! cc "$inst/t.c" $(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs grove) \
       -Wl,-rpath,"$inst/p/lib" -o "$inst/t1" || ! "$inst/t1"; then
    echo "package: a program built with pkg-config does not build or run"; fail=1
  fi
  mkdir -p "$inst/cm"
  printf 'cmake_minimum_required(VERSION 3.16)\nproject(t C)\nfind_package(Grove 0.1 REQUIRED)\nadd_executable(t %s)\ntarget_link_libraries(t PRIVATE grove::grove)\n' "$inst/t.c" > "$inst/cm/CMakeLists.txt"
  if ! cmake -S "$inst/cm" -B "$inst/cm/b" -DCMAKE_PREFIX_PATH="$inst/p" >/dev/null ||
     ! cmake --build "$inst/cm/b" >/dev/null || ! "$inst/cm/b/t"; then
    echo "package: find_package(Grove) does not build or run"; fail=1
  fi
else
  echo "package: cmake --install failed"; fail=1
fi

if [ "$fail" -ne 0 ]; then
  echo "checks: FAILED"; exit 1
fi
echo "checks: layers, exported symbols, headers and the installed package OK"
