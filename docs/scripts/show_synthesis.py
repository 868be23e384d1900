"""Show synthetic training slices with their labels (docs/images/synthesis_examples.png).

Usage::

    python docs/scripts/show_synthesis.py [--seed 3] [--out docs/images/synthesis_examples.png]
        [--gg-patch FILE] [--ret-patch FILE]

Healthy slices (levels of healthy phantoms and, when ``../shared/data/real`` is present, real normal-lung
CT from TCIA) get ground glass and reticulation inserted exactly as in training
(:mod:`ssc_core.training.synthesis`). Each column shows one example: the synthetic slice at lung window, the
same slice with the labelled regions outlined (GG yellow, RET red) and the labels the scorer is trained on,
and a 2x zoom of the healthy and the synthetic slice side by side. Needs matplotlib (the ``docs`` extra).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ssc_core.constants import LEVELS, LUNG_WINDOW

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT.parent / "shared" / "data" / "real"


def _phantom_slices(seed: int, n: int) -> list[tuple[np.ndarray, tuple[float, float], str]]:
    from ssc_core.imaging.phantom import generate_phantom

    out = []
    for i in range(n):
        ph = generate_phantom(seed + i)
        lv = LEVELS[(2 + 2 * i) % 5]
        k = ph.level_slices[lv]
        _, dy, dx = ph.volume.spacing
        out.append((np.asarray(ph.volume.axial(k)), (dy, dx), f"phantom {seed + i}, {lv.label}"))
    return out


def _real_slices() -> list[tuple[np.ndarray, tuple[float, float], str]]:
    from ssc_core.imaging.loader import load_scan

    out = []
    for folder, pick, name in (
        (REAL / "lidc-idri-partial" / "LIDC-IDRI-0003", 0.5, "LIDC-IDRI-0003 (TCIA, CC BY 3.0)"),
        (REAL / "tcia-pancreas-ct-001", 0.93, "Pancreas-CT-CB_001 (TCIA, CC BY 4.0)"),
    ):
        if not folder.exists():
            continue
        vol = load_scan(folder).volume
        k = (
            min(vol.n_slices - 1, int(pick * vol.n_slices))
            if pick < 0.9
            else max(0, int(0.06 * vol.n_slices))
        )
        _, dy, dx = vol.spacing
        out.append((np.asarray(vol.axial(k)), (dy, dx), name))
    return out


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from ssc_core.imaging.lung_mask import lung_mask
    from ssc_core.training.synthesis import draw_synthesis, synthesise, texture_bank

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "synthesis_examples.png")
    parser.add_argument("--gg-patch", action="append", default=[])
    parser.add_argument("--ret-patch", action="append", default=[])
    args = parser.parse_args(argv)

    slices = _phantom_slices(args.seed, 2) + _real_slices()
    if len(slices) < 4:
        slices += _phantom_slices(args.seed + 10, 4 - len(slices))
    hu = np.stack([s[0] for s in slices]).astype(np.float32)
    lungs = np.stack([lung_mask(s[0], pixel_spacing_mm=s[1]) for s in slices])
    bank = texture_bank(gg_patches=args.gg_patch, ret_patches=args.ret_patch, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    params = draw_synthesis(rng, len(slices), (bank.gg.tiles.shape[0], bank.ret.tiles.shape[0]))
    syn = synthesise(torch.from_numpy(hu), torch.from_numpy(lungs), params, bank)
    out_hu = syn.hu.numpy()
    labels = syn.labels.numpy()

    lo, hi = LUNG_WINDOW.lower, LUNG_WINDOW.upper
    n = len(slices)
    fig, axes = plt.subplots(3, n, figsize=(4.2 * n, 13.2), facecolor="black")
    for j in range(n):
        gg = syn.gg_mask[j].numpy()
        ret = syn.ret_mask[j].numpy()
        ax = axes[0, j]
        ax.imshow(out_hu[j], cmap="gray", vmin=lo, vmax=hi, interpolation="lanczos")
        ax.set_title(slices[j][2], color="white", fontsize=9)
        ax = axes[1, j]
        ax.imshow(out_hu[j], cmap="gray", vmin=lo, vmax=hi, interpolation="lanczos")
        ax.contour(lungs[j], levels=[0.5], colors="deepskyblue", linewidths=0.6)
        if gg.any():
            ax.contour(gg, levels=[0.5], colors="yellow", linewidths=0.9)
        if ret.any():
            ax.contour(ret, levels=[0.5], colors="red", linewidths=0.9)
        t, g, r = labels[j]
        ax.set_title(f"labels: TOT {t:.1f} %  GG {g:.1f} %  RET {r:.1f} %", color="white", fontsize=10)
        # zoom: a 128 x 128 window centred on the inserted region, healthy (left) | synthetic (right)
        region = gg | ret
        ys, xs = np.nonzero(region if region.any() else lungs[j])
        cy, cx = int(np.median(ys)), int(np.median(xs))
        h, w = out_hu[j].shape
        y0 = int(np.clip(cy - 64, 0, h - 128))
        x0 = int(np.clip(cx - 64, 0, w - 128))
        zoom = np.concatenate(
            [hu[j, y0 : y0 + 128, x0 : x0 + 128], out_hu[j, y0 : y0 + 128, x0 : x0 + 128]], axis=1
        )
        ax = axes[2, j]
        ax.imshow(zoom, cmap="gray", vmin=lo, vmax=hi, interpolation="lanczos")
        ax.axvline(127.5, color="white", linewidth=0.8)
        ax.set_title("zoom: healthy | synthetic", color="white", fontsize=9)
        for a in axes[:, j]:
            a.axis("off")
    fig.suptitle(
        "Data synthesis (Jia et al. 2024): ground glass (yellow) and reticulation (red) inserted into "
        "healthy lung; labels = inserted areas / lung area (blue), TOT = union. Lung window W1500/L-600.",
        color="white",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80, facecolor="black")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
