#!/usr/bin/env python3
"""Fermi-Eyges lateral spread of a pencil beam, by numeric integration.

Usage: ref_transport.py E0 alpha p step_mm X0 rho sigma0_mm depth_mm...

The beam slows down by the Bragg-Kleeman rule R(E) = alpha E^p (alpha in
cm / MeV^p, water-like density rho g/cm^3), so E(z) = ((R0 - z) / alpha)^(1/p)
with R0 = alpha E0^p. Multiple scattering follows Highland's formula applied
per transport step s (as the transport applies it):
    theta0(E) = 13.6 / (beta c p) sqrt(x/X0) (1 + 0.038 ln(x / (X0 beta^2))),
    x = s rho / 10 g/cm^2, proton mass 938.272 MeV,
so the scattering power is T(z) = theta0(E(z))^2 / s (rad^2 per mm), and
Fermi-Eyges gives the projected lateral variance
    sigma_x^2(z) = sigma0^2 + integral_0^z (z - z')^2 T(z') dz'.
Prints one sigma_x (mm) per depth. Independent of medvol: numpy + scipy only.
"""
import sys

import numpy as np
from scipy import integrate

M = 938.272


def main():
    a = [float(v) for v in sys.argv[1:]]
    e0, alpha, p, step, x0, rho, sig0 = a[:7]
    depths = a[7:]
    r0 = alpha * 10.0 * e0 ** p / rho  # mm

    def energy(z):
        return ((r0 - z) * rho / 10.0 / alpha) ** (1.0 / p)

    def power(z):
        e = energy(z)
        pc = np.sqrt(e * (e + 2 * M))
        beta = pc / (e + M)
        t = step * rho / 10.0 / x0
        th = 13.6 / (pc * beta) * np.sqrt(t) * (1 + 0.038 * np.log(t / beta ** 2))
        return max(th, 0.0) ** 2 / step

    for z in depths:
        v, _ = integrate.quad(lambda zp: (z - zp) ** 2 * power(zp), 0.0, z, limit=200, epsabs=0, epsrel=1e-10)
        print("%.10g" % np.sqrt(sig0 ** 2 + v))


if __name__ == "__main__":
    main()
