#!/usr/bin/env python3
"""gpu_kernels.py ALL NCU_CSV - which mv__cu_ kernels the tests never launched.

ALL: the mangled kernel symbols in the binary, one per line (cuobjdump
-symbols | grep); NCU_CSV: the output of ncu --csv over the test run, one
row per kernel launch, demangled names in the "Kernel Name" column. Both
are reduced to "name<template arguments>" without spaces and compared.
Prints the counts of kernel functions and instantiations, then the ones
never launched. Any python3 (standard library only); c++filt on PATH."""
import csv, re, subprocess, sys

def key(demangled):
    s = demangled.strip()
    if s.startswith("void "): s = s[5:]
    depth = 0
    for i, ch in enumerate(s):  # cut at the parameter list (depth 0 of <>)
        if ch == "<": depth += 1
        elif ch == ">": depth -= 1
        elif ch == "(" and depth == 0:
            s = s[:i]
            break
    s = s.replace(" ", "")
    # bool template arguments: c++filt writes true/false, ncu 1/0
    s = s.replace("(bool)1", "1").replace("(bool)0", "0")
    return re.sub(r"(?<=[<,])true(?=[,>])", "1", re.sub(r"(?<=[<,])false(?=[,>])", "0", s))

def function(k):
    return k.split("<", 1)[0]

mangled = sorted(set(open(sys.argv[1]).read().split()))
demangled = subprocess.run(["c++filt"], input="\n".join(mangled), capture_output=True, text=True).stdout.splitlines()
all_keys = {key(d): d for d in demangled}
run_keys, run_names = set(), {}
with open(sys.argv[2], newline="") as f:
    lines = [l for l in f if l.startswith('"')]
for row in csv.DictReader(lines):
    if "mv__cu_" in row.get("Kernel Name", ""):
        run_keys.add(key(row["Kernel Name"]))
        run_names[key(row["Kernel Name"])] = row["Kernel Name"]
all_fn = sorted({function(k) for k in all_keys})
run_fn = {function(k) for k in run_keys}
missing = sorted(k for k in all_keys if k not in run_keys)
print(f"kernel functions: {len(all_fn)} in the binary, {len(run_fn & set(all_fn))} launched by the tests")
print(f"instantiations:   {len(all_keys)} in the binary, {len(all_keys) - len(missing)} launched by the tests")
print("functions never launched:", " ".join(f for f in all_fn if f not in run_fn) or "none")
print("instantiations never launched:")
for k in missing: print("  " + all_keys[k])
unknown = sorted(k for k in run_keys if k not in all_keys)
if unknown:
    print("launched, but named unlike any symbol of the binary (fix key()):")
    for k in unknown: print("  " + run_names[k])
