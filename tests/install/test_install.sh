#!/usr/bin/env bash
# make test-install: `make install` into a temporary PREFIX, then a user's
# program (consumer.c, copied away from the source tree) built against that
# installed copy only, with pkg-config (C99 and C++11) and with CMake's
# find_package(medvol), and run; then `make uninstall` must leave no file.
# Without pkg-config or cmake that half prints SKIPPED (and is not a pass).
set -euo pipefail
cd "$(dirname "$0")/../.."
MAKE=${MAKE:-make}
CC=${CC:-cc}
CXX=${CXX:-c++}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/medvol-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "test-install: FAIL: $*"; exit 1; }

$MAKE --no-print-directory -s install PREFIX="$prefix" >/dev/null
for f in include/medvol.h include/medvol_cuda.h lib/pkgconfig/medvol.pc \
         lib/cmake/medvol/medvolConfig.cmake lib/cmake/medvol/medvolConfigVersion.cmake; do
    [ -f "$prefix/$f" ] || fail "make install did not write $f"
done
cmp -s medvol.h "$prefix/include/medvol.h" || fail "installed medvol.h differs from the source"
version=$(sed -n 's/^#define MEDVOL_VERSION_STRING "\(.*\)"/\1/p' medvol.h)

# the consumer sees only the installed tree: no -I into the sources
mkdir "$tmp/src"
cp tests/install/consumer.c tests/install/CMakeLists.txt "$tmp/src/"
passed=""

if command -v pkg-config >/dev/null; then
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    got=$(pkg-config --modversion medvol) || fail "pkg-config does not find medvol.pc"
    [ "$got" = "$version" ] || fail "pkg-config --modversion says $got, medvol.h says $version"
    cflags=$(pkg-config --cflags medvol | sed "s/ *$//")
    libs=$(pkg-config --libs medvol)
    [ "$cflags" = "-I$prefix/include" ] || fail "pkg-config --cflags gave '$cflags'"
    # (also make test's gcc -O1 check of the bare configuration)
    # shellcheck disable=SC2086
    $CC -std=c99 -O1 -Wall -Wextra -Wpedantic -Werror $cflags "$tmp/src/consumer.c" -o "$tmp/consumer-c" $libs \
        || fail "the C consumer does not build with pkg-config's flags"
    "$tmp/consumer-c" >/dev/null || fail "the pkg-config C build does not run"
    # C++ with runtime dispatch, unoptimized, as a debug build compiles it.
    # gcc's -O3 warnings after inlining are checked once, by the CMake
    # Release build below (C; make test-extended); g++'s own come from its
    # front end (tests-cxx compiles the header as C++ at -O1). g++ -O3 here took 88 s, -O0 15 s;
    # the Makefile's test-configs says which build checks which configuration
    # shellcheck disable=SC2086
    $CXX -std=c++11 -x c++ -O0 -DMEDVOL_RUNTIME_DISPATCH -Wall -Wextra -Wpedantic -Werror $cflags \
        "$tmp/src/consumer.c" -o "$tmp/consumer-cxx" $libs \
        || fail "the C++ consumer does not build with pkg-config's flags"
    "$tmp/consumer-cxx" >/dev/null || fail "the pkg-config C++ build does not run"
    passed="$passed pkg-config(C99, C++11)"
else
    echo "test-install: SKIPPED pkg-config half: pkg-config not found (apt-get install pkg-config)"
fi

if command -v cmake >/dev/null; then
    # MEDVOL_INSTALL_BUILD_TYPE: Release (-O3 -DNDEBUG, the default: gcc's
    # warnings after -O3's inlining) or what make test passes, Debug (-O0 -g:
    # the install and find_package checks without a 112-CPU-second -O3
    # compile; make test-extended runs the Release build)
    build_type=${MEDVOL_INSTALL_BUILD_TYPE:-Release}
    cmake -S "$tmp/src" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$CC" \
          -DCMAKE_BUILD_TYPE="$build_type" >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "cmake configure (find_package(medvol))"; }
    cmake --build "$tmp/cmake-build" >>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "cmake build"; }
    "$tmp/cmake-build/consumer" >/dev/null || fail "the CMake build does not run"
    # the version file refuses another major (and, in 0.x, another minor) version
    printf 'cmake_minimum_required(VERSION 3.14)\nproject(v NONE)\nfind_package(medvol 0.99 REQUIRED)\n' > "$tmp/src/v.cmake.txt"
    mkdir "$tmp/vsrc" && mv "$tmp/src/v.cmake.txt" "$tmp/vsrc/CMakeLists.txt"
    if cmake -S "$tmp/vsrc" -B "$tmp/vbuild" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1; then
        fail "find_package(medvol 0.99) accepted version $version"
    fi
    passed="$passed cmake(find_package medvol::medvol)"
else
    echo "test-install: SKIPPED CMake half: cmake not found (apt-get install cmake)"
fi

$MAKE --no-print-directory -s uninstall PREFIX="$prefix" >/dev/null
left=$(find "$prefix" -type f)
[ -z "$left" ] || fail "make uninstall left: $left"

[ -n "$passed" ] || { echo "test-install: SKIPPED: neither pkg-config nor cmake found"; exit 0; }
echo "test-install: ok:$passed; uninstall removed every file"
