#!/usr/bin/env python3
"""gpu_kernels.py ALL RUN - which mv__cu_ kernels the tests never launched.

ALL: mangled kernel symbols in the binary (cuobjdump -symbols), RUN: the
mangled names ncu saw launched; one per line. Prints the counts of kernel
functions and template instantiations, then the ones never launched.
Runs on any python3 (standard library only)."""
import re, subprocess, sys

def function_name(sym):
    # _Z[L]<length><name>...: the length prefix delimits the function name
    m = re.match(r"_ZL?(\d+)", sym)
    n = int(m.group(1))
    return sym[m.end():m.end() + n]

def demangle(syms):
    try:
        return subprocess.run(["c++filt"], input="\n".join(syms), capture_output=True, text=True).stdout.split("\n")
    except OSError:
        return syms

all_syms = sorted(set(open(sys.argv[1]).read().split()))
run_syms = set(open(sys.argv[2]).read().split())
all_fn = sorted({function_name(s) for s in all_syms})
run_fn = {function_name(s) for s in run_syms}
missing = [s for s in all_syms if s not in run_syms]
print(f"kernel functions: {len(all_fn)} in the binary, {len(run_fn & set(all_fn))} launched")
print(f"instantiations:   {len(all_syms)} in the binary, {len(all_syms) - len(missing)} launched")
print("functions never launched:", " ".join(f for f in all_fn if f not in run_fn) or "none")
print("instantiations never launched:")
for d in demangle(missing):
    if d: print("  " + d)
