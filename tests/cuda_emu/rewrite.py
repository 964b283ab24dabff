#!/usr/bin/env python3
"""rewrite.py - CUDA launch syntax to plain C++ for the CUDA emulator (tests only).

    rewrite.py IN OUT

Writes IN to OUT with
  - each kernel launch `kernel<tmpl><<<cfg>>>(args)` turned into
    `mv_emu::launch(mv_emu::cfg(cfg), "kernel<tmpl>", kernel<tmpl>, args)`;
  - each `extern __shared__ T name[];` turned into
    `T *name = (T *)mv_emu::dynamic_shared();` (the launch's dynamic shared
    memory);
  - `#line` directives so that compiler messages and asserts name IN's lines.
Everything else is copied as it is. Fails (exit 1) on a launch it cannot
parse, naming the line, rather than writing a half-converted file.
Runs under any Python 3 (Debian's /usr/bin/python3 in make test).
"""
import re
import sys

IDENT = re.compile(r"[A-Za-z0-9_:]")


def matching(text, i, open_ch, close_ch, step):
    """Index of the bracket matching text[i], scanning by step (+1 or -1)."""
    depth = 0
    while 0 <= i < len(text):
        c = text[i]
        if c == open_ch:
            depth += 1
        elif c == close_ch:
            depth -= 1
            if depth == 0:
                return i
        i += step
    return -1


def kernel_start(text, end):
    """Start of the kernel expression that ends just before text[end]."""
    i = end - 1
    while i >= 0 and text[i].isspace():
        i -= 1
    if text[i] == ">":  # explicit template arguments
        i = matching(text, i, ">", "<", -1)
        if i < 0:
            return -1
        i -= 1
    while i >= 0 and IDENT.match(text[i]):
        i -= 1
    return i + 1


def rewrite(src, name):
    out = []
    pos = 0
    while True:
        at = src.find("<<<", pos)
        if at < 0:
            out.append(src[pos:])
            break
        line = src.count("\n", 0, at) + 1
        start = kernel_start(src, at)
        close = src.find(">>>", at)
        paren = close + 3
        while paren < len(src) and src[paren].isspace():
            paren += 1
        if start < 0 or start >= at or close < 0 or paren >= len(src) or src[paren] != "(":
            sys.exit("%s:%d: cannot parse this kernel launch" % (name, line))
        end = matching(src, paren, "(", ")", 1)
        if end < 0:
            sys.exit("%s:%d: unbalanced kernel arguments" % (name, line))
        kernel = src[start:at].strip()
        cfg = src[at + 3:close].strip()
        args = src[paren + 1:end].strip()
        out.append(src[pos:start])
        call = 'mv_emu::launch(mv_emu::cfg(%s), "%s", %s%s)' % (cfg, kernel, kernel, ", " + args if args else "")
        # keep the line count: a launch spread over lines stays as many lines
        out.append(call.replace("\n", " ") + "\n" * src.count("\n", start, end + 1))
        pos = end + 1
    text = "".join(out)
    text = re.sub(r"extern\s+__shared__\s+([A-Za-z_][A-Za-z0-9_ ]*?)\s+([A-Za-z_][A-Za-z0-9_]*)\s*\[\s*\]\s*;",
                  r"\1 *\2 = (\1 *)mv_emu::dynamic_shared();", text)
    return text


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: rewrite.py IN OUT")
    src_name, dst_name = sys.argv[1], sys.argv[2]
    with open(src_name) as f:
        src = f.read()
    text = rewrite(src, src_name)
    tmp = dst_name + ".tmp"
    with open(tmp, "w") as f:
        f.write('#line 1 "%s"\n' % src_name)
        f.write(text)
    import os
    os.replace(tmp, dst_name)


if __name__ == "__main__":
    main()
