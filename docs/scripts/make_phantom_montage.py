"""Render the five Goh levels and a coronal reformat of one diseased phantom (docs/images/phantom_*.png).

Usage::

    python docs/scripts/make_phantom_montage.py [--seed 7] [--out docs/images]

Needs matplotlib (the ``docs`` extra). The images are at lung window (W1500/L-600); the level montage adds
the slice 1 cm below L5 (the top of the right dome) so that the L5 definition can be checked by eye.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ssc_core.constants import LEVELS, LUNG_WINDOW, Level
from ssc_core.imaging.phantom import DiseaseSpec, generate_phantom, phantom_anatomy

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)

    # an SSc-like disease: basal predominance, ground glass with subpleural reticulation
    tot, gg, ret = (0.0, 5.0, 15.0, 30.0, 45.0), (0.0, 5.0, 10.0, 25.0, 35.0), (0.0, 0.0, 10.0, 15.0, 25.0)
    spec = DiseaseSpec(tot, gg, ret)
    ph = generate_phantom(args.seed, disease=spec)
    v = ph.volume
    lo, hi = LUNG_WINDOW.lower, LUNG_WINDOW.upper
    idx = ph.level_slices
    dome = int(np.argmin(np.abs(v.slice_z - (ph.landmarks["right_dome_top"] - 5.0))))
    panels = [(idx[lv], f"{lv.label}: {lv.definition}") for lv in LEVELS]
    panels.append((dome, "5 mm below the top of the right dome (L5 - 15 mm)"))

    args.out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(2, 3, figsize=(15, 10.4), facecolor="black")
    for ax, (k, title) in zip(axes.ravel(), panels):
        ax.imshow(v.hu[k], cmap="gray", vmin=lo, vmax=hi, interpolation="lanczos")
        scores = ""
        for lv in LEVELS:
            if idx[lv] == k:
                s = ph.level_scores[lv]
                scores = f"\ntruth TOT {s.tot} / GG {s.gg} / RET {s.ret}"
        ax.set_title(f"{title}\nz = {v.slice_z[k]:.1f} mm{scores}", color="white", fontsize=10)
        ax.axis("off")
    fig.suptitle(
        f"Synthetic chest phantom, seed {args.seed} (not a patient) - lung window W1500/L-600, "
        f"{v.spacing[1]:.2f} mm pixels, {v.spacing[0]:g} mm slices",
        color="white",
        fontsize=12,
    )
    fig.tight_layout()
    levels_png = args.out / "phantom_levels.png"
    fig.savefig(levels_png, dpi=72, facecolor="black")
    plt.close(fig)

    # coronal reformat through the carina, with the five level lines
    anat = phantom_anatomy(args.seed)
    y_world = anat.carina_xy[1] + anat.world_offset[1]
    row = round(float((y_world - v.origin[1]) / v.spacing[1]))
    coronal = v.hu[:, row, :]
    fig, ax = plt.subplots(
        figsize=(8.5, 8.5 * v.n_slices * v.spacing[0] / (v.shape[2] * v.spacing[2]) + 0.8), facecolor="black"
    )
    extent = (0, v.shape[2] * v.spacing[2], float(v.slice_z[-1]), float(v.slice_z[0]))
    ax.imshow(coronal, cmap="gray", vmin=lo, vmax=hi, extent=extent, aspect="equal", interpolation="lanczos")
    colours = {
        Level.L1: "#ff6b6b",
        Level.L2: "#ffd93d",
        Level.L3: "#6bcB77",
        Level.L4: "#4d96ff",
        Level.L5: "#c77dff",
    }
    for lv in LEVELS:
        z = ph.level_z[lv]
        ax.axhline(z, color=colours[lv], lw=1.0, alpha=0.9)
        ax.text(extent[1] - 4, z + 2, lv.label, color=colours[lv], ha="right", va="bottom", fontsize=10)
    title = f"Coronal reformat through the carina, seed {args.seed} (synthetic)"
    ax.set_title(title, color="white", fontsize=11)
    ax.axis("off")
    fig.tight_layout()
    coronal_png = args.out / "phantom_coronal.png"
    fig.savefig(coronal_png, dpi=72, facecolor="black")
    plt.close(fig)
    print(f"wrote {levels_png} and {coronal_png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
