#!/usr/bin/python3
"""Independent numpy references for test_mri.c.

usage: ref_mri.py DIR      reads DIR/cases.txt, writes DIR/<id>.out per case

cases.txt, one case a line:  id op ndim d0 .. d{ndim-1} [params]
Arrays are raw little-endian float32 / complex64 files in our layout (dims[0]
fastest), i.e. numpy arrays of shape dims[::-1]; our axis k is numpy axis
ndim-1-k. Inputs: DIR/<id>.in (and <id>.in2). Computed in float64.
"""
import os
import sys

import numpy as np


def load(path, dims, dtype):
    return np.fromfile(path, dtype=dtype).reshape(tuple(reversed(dims)))


def np_axes(mask, ndim):
    return tuple(ndim - 1 - k for k in range(ndim) if mask >> k & 1)


def fftc(x, axes, inverse):
    x = np.fft.ifftshift(x, axes=axes)
    x = np.fft.ifftn(x, axes=axes, norm='ortho') if inverse else np.fft.fftn(x, axes=axes, norm='ortho')
    return np.fft.fftshift(x, axes=axes)


def bart_fftmod(x, dims, mask, inverse):
    """BART's fftmod (its num/fft.c) from its definition, in float64: each
    sample times e^(+-2 pi i sum_a t_a), t(j) = (j - c/2) c/n, c = n // 2,
    over the masked axes of length > 1 (x: numpy shape dims[::-1]); the
    exact value at whole quarter turns."""
    t = np.zeros(x.shape)
    nd = len(dims)
    for a in range(nd):
        n = dims[a]
        if not (mask >> a & 1) or n == 1:
            continue
        c = n // 2
        ta = (np.arange(n) - c / 2.0) * (c / n)
        shape = [1] * nd
        shape[nd - 1 - a] = n
        t = t + ta.reshape(shape)
    rem = t - np.floor(t)
    f = np.exp(2j * np.pi * rem)
    quarter = rem * 4 == np.round(rem * 4)
    f[quarter] = np.array([1, 1j, -1, -1j])[np.round(rem[quarter] * 4).astype(int) % 4]
    return x * (np.conj(f) if inverse else f)


def coil_axis(ndim):
    return ndim - 1 - 3   # our dims[3]


def resize(x, dims, shape):
    """Centred k-space crop / zero-fill keeping the DC sample n/2 in place."""
    out_dims = list(dims)
    for a in range(3):
        if shape[a] > 0:
            out_dims[a] = shape[a]
    y = np.zeros(tuple(reversed(out_dims)), dtype=x.dtype)
    src = [slice(None)] * len(dims)
    dst = [slice(None)] * len(dims)
    for a in range(3):
        n_in, n_out = dims[a], out_dims[a]
        ax = len(dims) - 1 - a
        lo_out = max(0, n_out // 2 - n_in // 2)
        lo_in = max(0, n_in // 2 - n_out // 2)
        cnt = min(n_in - lo_in, n_out - lo_out)
        src[ax] = slice(lo_in, lo_in + cnt)
        dst[ax] = slice(lo_out, lo_out + cnt)
    y[tuple(dst)] = x[tuple(src)]
    return y


def sens_estimate(k, dims, calib, thr):
    """Low-res RSS-normalised sensitivities (same recipe as the C code:
    Hann-tapered centre, centred inverse FFT, divide by RSS, mask)."""
    nd = len(dims)
    w = np.ones(tuple(reversed(dims[:3])), dtype=np.float64)
    spatial = []
    for a in range(3):
        n = dims[a]
        cs = min(calib[a] if calib[a] else 24, n)
        lo = n // 2 - cs // 2
        d = np.arange(n) - n // 2
        half = cs // 2 + 1
        taper = np.cos(np.pi / 2 * d / half) ** 2
        inside = (np.arange(n) >= lo) & (np.arange(n) < lo + cs)
        taper = np.where(inside, taper, 0.0)
        shape = [1, 1, 1]
        shape[2 - a] = n
        w = w * taper.reshape(shape)
        if n > 1:
            spatial.append(a)
    kc = k.astype(np.complex128) * w[None, ...] if nd == 4 else None
    axes = tuple(nd - 1 - a for a in spatial) if spatial else (nd - 1,)
    img = fftc(kc, axes, True)
    rss = np.sqrt((np.abs(img) ** 2).sum(axis=0))
    frac = 0.05 if thr == 0 else thr
    t = 0.0 if frac < 0 else frac * rss.max()
    keep = (rss > 0) & (rss >= t)
    s = np.where(keep[None, ...], img / np.where(rss > 0, rss, 1)[None, ...], 0)
    return s


def main():
    d = sys.argv[1]
    for line in open(os.path.join(d, 'cases.txt')):
        f = line.split()
        if not f:
            continue
        cid, op, nd = f[0], f[1], int(f[2])
        dims = [int(v) for v in f[3:3 + nd]]
        par = f[3 + nd:]
        inp = os.path.join(d, cid + '.in')
        if op in ('fftshift', 'ifftshift'):
            x = load(inp, dims, '<c8')
            ax = np_axes(int(par[0]), nd)
            y = np.fft.fftshift(x, axes=ax) if op == 'fftshift' else np.fft.ifftshift(x, axes=ax)
        elif op == 'fftmod':  # params: mask inverse d0,d1,.. (BART's dims, up to 16)
            fd = [int(v) for v in par[2].split(',')]
            x = np.fromfile(inp, dtype='<c8').reshape(tuple(reversed(fd))).astype(np.complex128)
            y = bart_fftmod(x, fd, int(par[0]), int(par[1]))
        elif op in ('fftc', 'ifftc'):
            x = load(inp, dims, '<c8').astype(np.complex128)
            y = fftc(x, np_axes(int(par[0]), nd), op == 'ifftc')
        elif op == 'resize':
            x = load(inp, dims, '<c8')
            y = resize(x, dims, [int(v) for v in par[:3]])
        elif op == 'rss':
            x = load(inp, dims, '<c8').astype(np.complex128)
            y = np.sqrt((np.abs(x) ** 2).sum(axis=coil_axis(nd)))
        elif op == 'rss_f32':
            x = load(inp, dims, '<f4').astype(np.float64)
            y = np.sqrt((x ** 2).sum(axis=coil_axis(nd)))
        elif op == 'combine':
            x = load(inp, dims, '<c8').astype(np.complex128)
            s = load(os.path.join(d, cid + '.in2'), dims[:4], '<c8').astype(np.complex128)
            ca = coil_axis(nd)
            sx = s.reshape((1,) * (nd - 4) + s.shape)
            num = (np.conj(sx) * x).sum(axis=ca)
            den = (np.abs(sx) ** 2).sum(axis=ca)
            y = np.where(den > 0, num / np.where(den > 0, den, 1), 0)
        elif op in ('mag', 'phase', 'real', 'imag'):
            x = load(inp, dims, '<c8')
            fn = {'mag': np.abs, 'phase': np.angle, 'real': np.real, 'imag': np.imag}[op]
            y = fn(x.astype(np.complex128))
        elif op == 'weight':
            x = load(inp, dims, '<c8').astype(np.complex128)
            wn = int(par[0])
            w = load(os.path.join(d, cid + '.in2'), dims[:wn], '<f4').astype(np.float64)
            y = x * w.reshape((1,) * (nd - wn) + w.shape)
        elif op == 'sens':
            x = load(inp, dims, '<c8')
            y = sens_estimate(x, dims, [int(v) for v in par[:3]], float(par[3]))
        else:
            raise SystemExit('unknown op ' + op)
        y = np.asarray(y)
        out = y.astype('<c8') if np.iscomplexobj(y) else y.astype('<f4')
        out.tofile(os.path.join(d, cid + '.out'))


if __name__ == '__main__':
    main()
