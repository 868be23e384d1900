"""Model bundles: a folder with ``spec.json`` and ``.safetensors`` files, verified before use.

Layout::

    my-bundle/
        spec.json                  BundleSpec (architectures, preprocessing, provenance, file hashes)
        level_finder.safetensors   state dict of the level-finder network
        scorer.safetensors         state dict of the scorer network
        texture.safetensors        tensor "texture_hu": the healthy-lung patch in HU (patch x patch)

:func:`load_bundle` refuses, with a :class:`~ssc_core.errors.BundleError` that says why: a missing or
malformed spec, a spec from a newer version, a file that is not a plain ``.safetensors`` name inside the
folder, a file whose SHA-256 differs from the spec (tampered or truncated), tensors whose names, shapes or
types do not match the networks built from the spec, a texture of the wrong size. Nothing is ever
unpickled: weights are read only by ``safetensors`` (a JSON header and raw little-endian tensor bytes, no
code), and a ``.pt``/``.pth``/``.bin``/``.ckpt`` file in the folder is never opened.

The **bundle hash** (:attr:`Bundle.hash`) is the SHA-256 of the canonical spec, which holds the hash of every
file: it identifies the exact weights and settings, and keys the AI cache (case x bundle).

:func:`inspect_bundle` reads and verifies the spec and the file hashes without torch (for menus and the
about box); :func:`load_bundle` also builds the networks and loads the weights.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ssc_core.ai.spec import MAX_SPEC_BYTES, SPEC_FILE, BundleSpec, FileRef, LevelFinderSpec, ScorerSpec
from ssc_core.constants import DEMO_BUNDLE_SUBDIR
from ssc_core.errors import BundleError
from ssc_core.fileio import sha256_file

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

#: Name of the healthy-texture tensor inside its safetensors file.
TEXTURE_TENSOR = "texture_hu"
#: Standard file names written by :func:`save_bundle`.
LEVEL_FINDER_FILE = "level_finder.safetensors"
SCORER_FILE = "scorer.safetensors"
TEXTURE_FILE = "texture.safetensors"


def resources_dir() -> Path:
    """The workstation's ``resources`` folder (beside the package, or inside a PyInstaller bundle)."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def default_bundle_path() -> Path:
    """Where the demo bundle lives (the default of the app and of ``ssc score``)."""
    return resources_dir() / DEMO_BUNDLE_SUBDIR


# --- reading ---------------------------------------------------------------------------------------------


def _spec_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if p.name == SPEC_FILE and p.parent.is_dir():
        return p
    if p.is_dir():
        return p / SPEC_FILE
    if not p.exists():
        raise BundleError(f"The model bundle '{p}' does not exist.")
    raise BundleError(f"'{p.name}' is not a model bundle: choose the bundle folder (it holds {SPEC_FILE}).")


def read_spec(path: str | os.PathLike[str]) -> BundleSpec:
    """Parse and validate ``spec.json`` of a bundle folder (files not checked; see :func:`inspect_bundle`)."""
    spec_path = _spec_path(path)
    if not spec_path.is_file():
        raise BundleError(
            f"The folder '{spec_path.parent.name}' is not a model bundle: it has no {SPEC_FILE}."
        )
    size = spec_path.stat().st_size
    if size > MAX_SPEC_BYTES:
        raise BundleError(f"{SPEC_FILE} is {size} bytes, too large to be a bundle spec.")
    try:
        obj = json.loads(spec_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BundleError(f"{SPEC_FILE} is not text: the bundle is damaged.") from None
    except json.JSONDecodeError as exc:
        raise BundleError(
            f"{SPEC_FILE} is not valid JSON (line {exc.lineno}): the bundle is damaged."
        ) from None
    return BundleSpec.from_json(obj)


def _verify_file(folder: Path, ref: FileRef, role: str) -> Path:
    path = folder / ref.file
    # The name pattern already forbids separators; resolve() also catches a symbolic link pointing out.
    try:
        inside = path.resolve().parent == folder.resolve()
    except OSError:
        inside = False
    if not inside:
        raise BundleError(f"The {role} file '{ref.file}' lies outside the bundle folder.")
    if not path.is_file():
        raise BundleError(f"The bundle is incomplete: the {role} file '{ref.file}' is missing.")
    actual = sha256_file(path)
    if actual != ref.sha256:
        raise BundleError(
            f"The {role} file '{ref.file}' does not match the bundle spec (SHA-256 differs): "
            "it was changed, truncated or replaced after the bundle was written.",
            hint="Copy the bundle again from its source; never edit the files of a bundle by hand.",
        )
    return path


def inspect_bundle(path: str | os.PathLike[str]) -> tuple[BundleSpec, str]:
    """Read the spec and verify every file's SHA-256; returns (spec, bundle hash). No torch needed."""
    spec_path = _spec_path(path)
    spec = read_spec(spec_path)
    for role, ref in spec.files().items():
        _verify_file(spec_path.parent, ref, role.replace("_", " "))
    return spec, spec.content_hash()


@dataclass(frozen=True, eq=False)
class Bundle:
    """A verified, loaded bundle: spec, networks (eval mode, CPU until moved) and the healthy texture."""

    path: Path
    spec: BundleSpec
    hash: str
    level_finder_net: nn.Module
    scorer_net: nn.Module
    #: Healthy-lung texture patch in HU (patch x patch, float32); None when the bundle has none.
    texture_hu: np.ndarray | None

    @property
    def display_name(self) -> str:
        return self.spec.display_name

    def to(self, device: torch.device | str) -> Bundle:
        """Move both networks to ``device`` (in place) and return self."""
        self.level_finder_net.to(device)
        self.scorer_net.to(device)
        return self


def _read_tensors(path: Path, role: str) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, ValueError, OSError, RuntimeError) as exc:
        raise BundleError(
            f"The {role} file '{path.name}' is not a readable safetensors file ({exc})."
        ) from None


def load_bundle(path: str | os.PathLike[str] | None = None) -> Bundle:
    """Verify and load a bundle (default: the demo bundle under ``resources/``).

    Raises
    ------
    BundleError
        With a clear reason when the bundle is missing, malformed, tampered, truncated or mismatched.
    """
    import torch

    from ssc_core.ai.networks import build_level_finder_net, build_scorer_net, check_state_dict

    if path is None:
        path = default_bundle_path()
        if not (Path(path) / SPEC_FILE).is_file():
            raise BundleError(
                "The demo model bundle is not installed yet.",
                hint="Pass a bundle folder with --bundle (train one with 'ssc train').",
            )
    spec_path = _spec_path(path)
    spec = read_spec(spec_path)
    folder = spec_path.parent
    if spec.level_finder.weights is None or spec.scorer.weights is None:
        raise BundleError("The bundle spec does not name the weights of both networks.")
    nets: dict[str, nn.Module] = {}
    for role, sub in (("level finder", spec.level_finder), ("scorer", spec.scorer)):
        assert sub.weights is not None
        file = _verify_file(folder, sub.weights, role)
        net = (
            build_level_finder_net(spec.level_finder)
            if role == "level finder"
            else build_scorer_net(spec.scorer)
        )
        tensors = _read_tensors(file, role)
        check_state_dict(net, tensors, role)
        net.load_state_dict(tensors, strict=True)
        nets[role] = net.eval()
    texture = None
    if spec.heatmap.texture is not None:
        file = _verify_file(folder, spec.heatmap.texture, "texture")
        tensors = _read_tensors(file, "texture")
        if set(tensors) != {TEXTURE_TENSOR}:
            raise BundleError(f"The texture file must hold exactly one tensor named '{TEXTURE_TENSOR}'.")
        t = tensors[TEXTURE_TENSOR]
        p = spec.heatmap.patch
        if tuple(t.shape) != (p, p) or t.dtype.is_complex or t.dtype == torch.bool:
            raise BundleError(
                f"The healthy texture must be a {p} x {p} patch of HU, got shape {tuple(t.shape)}."
            )
        texture = t.to(dtype=torch.float32).numpy().copy()
        if not np.isfinite(texture).all():
            raise BundleError("The healthy texture holds non-finite values: the bundle is damaged.")
    return Bundle(
        path=folder,
        spec=spec,
        hash=spec.content_hash(),
        level_finder_net=nets["level finder"],
        scorer_net=nets["scorer"],
        texture_hu=texture,
    )


# --- writing ---------------------------------------------------------------------------------------------


def _state_to_save(state: Any) -> dict[str, torch.Tensor]:
    from torch import nn

    if isinstance(state, nn.Module):
        state = state.state_dict()
    # Own, contiguous CPU copies: safetensors refuses shared or non-contiguous storage.
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


def save_bundle(
    folder: str | os.PathLike[str],
    spec: BundleSpec,
    *,
    level_finder: Any,
    scorer: Any,
    texture_hu: np.ndarray | None = None,
    overwrite: bool = False,
) -> BundleSpec:
    """Write a complete bundle; returns the spec as written (with file names and hashes filled in).

    Parameters
    ----------
    folder
        Target folder; created. An existing non-empty folder is refused unless ``overwrite``.
    spec
        The spec to write; its ``weights``/``texture`` file references are replaced by the files written.
    level_finder, scorer
        The networks (``nn.Module``) or their state dicts; checked against the networks the spec builds.
    texture_hu
        Healthy-lung patch in HU, ``spec.heatmap.patch`` squared (optional).

    The files go to a temporary folder beside the target first and the folder is renamed into place, so an
    interrupted write never leaves a half bundle under the target name.
    """
    import torch
    from safetensors.torch import save_file

    from ssc_core.ai.networks import build_level_finder_net, build_scorer_net, check_state_dict

    target = Path(folder)
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise BundleError(f"The folder '{target.name}' is not empty; choose a new folder for the bundle.")
    lf_state = _state_to_save(level_finder)
    sc_state = _state_to_save(scorer)
    check_state_dict(build_level_finder_net(spec.level_finder), lf_state, "level finder")
    check_state_dict(build_scorer_net(spec.scorer), sc_state, "scorer")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        save_file(lf_state, str(tmp / LEVEL_FINDER_FILE), metadata={"role": "level_finder"})
        save_file(sc_state, str(tmp / SCORER_FILE), metadata={"role": "scorer"})
        lf_ref = FileRef(LEVEL_FINDER_FILE, sha256_file(tmp / LEVEL_FINDER_FILE))
        sc_ref = FileRef(SCORER_FILE, sha256_file(tmp / SCORER_FILE))
        heatmap = replace(spec.heatmap, texture=None)
        if texture_hu is not None:
            t = np.asarray(texture_hu, dtype=np.float32)
            p = spec.heatmap.patch
            if t.shape != (p, p) or not np.isfinite(t).all():
                raise BundleError(f"The healthy texture must be a finite {p} x {p} patch, got {t.shape}.")
            save_file({TEXTURE_TENSOR: torch.from_numpy(t.copy())}, str(tmp / TEXTURE_FILE))
            heatmap = replace(heatmap, texture=FileRef(TEXTURE_FILE, sha256_file(tmp / TEXTURE_FILE)))
        written = replace(
            spec,
            level_finder=replace(spec.level_finder, weights=lf_ref),
            scorer=replace(spec.scorer, weights=sc_ref),
            heatmap=heatmap,
        )
        written.validate()
        text = json.dumps(written.to_json(), indent=2, sort_keys=False, allow_nan=False)
        (tmp / SPEC_FILE).write_text(text + "\n", encoding="utf-8")
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def save_untrained_bundle(
    folder: str | os.PathLike[str],
    spec: BundleSpec,
    *,
    seed: int = 0,
    texture_hu: np.ndarray | None = None,
    overwrite: bool = False,
) -> BundleSpec:
    """A bundle with freshly initialised (seeded) networks: the starting point of training, and of tests
    and benchmarks that need real networks of the right shape but no trained weights."""
    import torch

    from ssc_core.ai.networks import build_level_finder_net, build_scorer_net

    torch.manual_seed(seed)
    return save_bundle(
        folder,
        spec,
        level_finder=build_level_finder_net(spec.level_finder),
        scorer=build_scorer_net(spec.scorer),
        texture_hu=texture_hu,
        overwrite=overwrite,
    )


def update_bundle(
    folder: str | os.PathLike[str],
    *,
    base: BundleSpec | None = None,
    level_finder: Any = None,
    level_finder_spec: LevelFinderSpec | None = None,
    scorer: Any = None,
    scorer_spec: ScorerSpec | None = None,
    texture_hu: np.ndarray | None = None,
    texture_source: str | None = None,
    provenance: dict[str, Any] | None = None,
    evaluation: dict[str, Any] | None = None,
    display_name: str | None = None,
    description: str | None = None,
    seed: int = 0,
) -> BundleSpec:
    """Replace some parts of the bundle in ``folder`` and keep the others; returns the spec as written.

    This is how training writes one network into a bundle that already holds the other. When ``folder``
    holds a bundle, it is verified and loaded, and every part not given here (network and its spec, healthy
    texture, display name) is kept; when it holds none, ``base`` gives the spec and a network not given is
    freshly initialised with ``seed`` (untrained). ``provenance`` and ``evaluation`` are merged into the
    spec's objects key by key (a key given replaces the old value); ``display_name`` and ``description``
    replace the old ones when given. The folder is rewritten atomically by :func:`save_bundle`.
    """
    import torch

    from ssc_core.ai.networks import build_level_finder_net, build_scorer_net

    target = Path(folder)
    if (target / SPEC_FILE).is_file():
        old = load_bundle(target)
        spec = old.spec
        lf_state: Any = old.level_finder_net
        sc_state: Any = old.scorer_net
        old_texture = old.texture_hu
    elif base is not None:
        spec = base
        lf_state = sc_state = None
        old_texture = None
    else:
        raise BundleError(
            f"The folder '{target.name}' holds no model bundle to update, and no spec to start one was given."
        )
    if level_finder_spec is not None:
        spec = replace(spec, level_finder=level_finder_spec)
    if scorer_spec is not None:
        spec = replace(spec, scorer=scorer_spec)
    if level_finder is not None:
        lf_state = level_finder
    elif lf_state is None or level_finder_spec is not None:
        if lf_state is not None and level_finder_spec is not None:
            raise BundleError("A new level-finder spec needs the weights trained for it.")
        torch.manual_seed(seed)
        lf_state = build_level_finder_net(spec.level_finder)
    if scorer is not None:
        sc_state = scorer
    elif sc_state is None or scorer_spec is not None:
        if sc_state is not None and scorer_spec is not None:
            raise BundleError("A new scorer spec needs the weights trained for it.")
        torch.manual_seed(seed + 1)
        sc_state = build_scorer_net(spec.scorer)
    texture = texture_hu if texture_hu is not None else old_texture
    heatmap = spec.heatmap
    if texture_source is not None:
        heatmap = replace(heatmap, texture_source=texture_source)
    spec = replace(
        spec,
        display_name=spec.display_name if display_name is None else display_name,
        description=spec.description if description is None else description,
        heatmap=heatmap,
        provenance={**spec.provenance, **(provenance or {})},
        evaluation={**spec.evaluation, **(evaluation or {})},
    )
    return save_bundle(
        target, spec, level_finder=lf_state, scorer=sc_state, texture_hu=texture, overwrite=True
    )
