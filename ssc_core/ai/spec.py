"""The JSON spec of a model bundle: typed, strictly validated, torch-free.

A bundle folder holds ``spec.json`` (this module's :class:`BundleSpec`) and ``.safetensors`` files (the
weights of each network and the healthy-texture patch), each named in the spec with its SHA-256. The spec
carries everything inference and training must agree on: architectures and their parameters, input sizes,
the HU clip and normalisation, output order, level-finder inference parameters, heat-map parameters, the
provenance of the training and its evaluation figures.

Parsing is strict: an unknown key, a wrong type or an impossible value is refused with a
:class:`~ssc_core.errors.BundleError` naming the field, so a spec written by a newer version or edited by
hand never half-works.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from ssc_core.constants import (
    HEATMAP_DEFAULT_THRESHOLD,
    HEATMAP_PATCH,
    HEATMAP_STRIDE,
    LEVELS,
    LNET_RESAMPLED_SHAPE,
    LNET_WINDOW_SLICES,
    LNET_WINDOW_STRIDE,
    NETWORK_HU_CLIP,
    PATTERNS,
    SCORER_INPUT_SIZE,
)
from ssc_core.errors import BundleError

#: Value of the spec's ``format`` field.
BUNDLE_FORMAT = "ssc-model-bundle"
#: Highest spec version this code reads (and the one it writes).
BUNDLE_FORMAT_VERSION = 1
#: Name of the spec file inside a bundle folder.
SPEC_FILE = "spec.json"
#: Largest spec.json accepted (a spec is a few kB; this refuses a file that is obviously not one).
MAX_SPEC_BYTES = 1 << 20

LEVEL_OUTPUTS: tuple[str, ...] = tuple(lv.label for lv in LEVELS)
SCORE_OUTPUTS: tuple[str, ...] = tuple(p.value for p in PATTERNS)

#: Scorer architectures: any timm ConvNeXt (V1 "convnext_*", V2 "convnextv2_*"). V1 is the paper's; V2 adds
#: a global GRN layer, so its heat maps take whole forward passes (same result, slower).
SCORER_ARCHITECTURE = re.compile(r"^convnext(v2)?_[a-z0-9_]+$")
#: The ones the project names (the paper's tiny; small ones for CPU workstations).
SCORER_ARCHITECTURES: tuple[str, ...] = (
    "convnext_atto",
    "convnext_femto",
    "convnext_pico",
    "convnext_nano",
    "convnext_tiny",
    "convnext_small",
    "convnext_base",
)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.safetensors$")


# --- parts -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Normalization:
    """Network input intensity: HU clipped to [``hu_min``, ``hu_max``] and scaled linearly to [0, 1]."""

    hu_min: float = NETWORK_HU_CLIP[0]
    hu_max: float = NETWORK_HU_CLIP[1]

    def validate(self, where: str) -> None:
        if not self.hu_max > self.hu_min:
            raise BundleError(
                f"{where}: the HU clip range must be increasing, got [{self.hu_min}, {self.hu_max}]."
            )


@dataclass(frozen=True)
class FileRef:
    """A file of the bundle: a plain ``.safetensors`` name inside the bundle folder and its SHA-256."""

    file: str
    sha256: str

    def validate(self, where: str) -> None:
        if not _FILE_NAME.match(self.file) or ".." in self.file:
            raise BundleError(
                f"{where}: '{self.file}' is not an allowed bundle file; a bundle refers only to "
                "'.safetensors' files by plain name inside its own folder."
            )
        if not _SHA256.match(self.sha256):
            raise BundleError(f"{where}: the SHA-256 of '{self.file}' is not 64 lowercase hex digits.")


@dataclass(frozen=True)
class VGG3DParams:
    """The paper's level network (authors' code widths) and its sliding-window inference."""

    widths: tuple[int, ...] = (8, 16, 32, 32, 64, 64, 128, 128)
    #: Indices of the conv layers followed by MaxPool3d(kernel 3, stride 2).
    pool_after: tuple[int, ...] = (0, 1, 3, 5, 7)
    pooled_size: int = 6
    hidden: int = 1024
    dropout: float = 0.5
    #: (z, y, x) grid the whole scan is resampled to.
    resampled_shape: tuple[int, int, int] = LNET_RESAMPLED_SHAPE
    window_slices: int = LNET_WINDOW_SLICES
    window_stride: int = LNET_WINDOW_STRIDE

    def validate(self, where: str) -> None:
        _positive(where, widths=self.widths, resampled_shape=self.resampled_shape)
        _positive(where, pooled_size=(self.pooled_size,), hidden=(self.hidden,))
        _positive(where, window=(self.window_slices, self.window_stride))
        if len(self.resampled_shape) != 3:
            raise BundleError(f"{where}: resampled_shape needs three sizes (z, y, x).")
        if self.window_slices > self.resampled_shape[0]:
            raise BundleError(
                f"{where}: the window ({self.window_slices}) is longer than the resampled scan."
            )
        if any(not 0 <= i < len(self.widths) for i in self.pool_after):
            raise BundleError(f"{where}: pool_after names a conv layer that does not exist.")
        if not 0.0 <= self.dropout < 1.0:
            raise BundleError(f"{where}: dropout must lie in [0, 1).")
        for name, size in (
            ("window_slices", self.window_slices),
            ("resampled y", self.resampled_shape[1]),
            ("resampled x", self.resampled_shape[2]),
        ):
            for _ in self.pool_after:  # each MaxPool3d(3, 2) needs at least 3 voxels
                if size < 3:
                    raise BundleError(f"{where}: {name} is too small for {len(self.pool_after)} poolings.")
                size = (size - 3) // 2 + 1


@dataclass(frozen=True)
class SliceEncoderParams:
    """The fast level finder: a 2.5D slice encoder and a dilated 1-D head along z (heat map per level).

    The scan is resampled to ``z_step_mm`` along z and each slice is reduced to ``slice_size`` squared;
    each resampled slice is encoded with its ``context`` neighbours as channels, and the 1-D head predicts,
    per level, logits over the z positions plus "above the scan" and "below the scan".
    """

    slice_size: int = 128
    z_step_mm: float = 2.5
    context: int = 3
    widths: tuple[int, ...] = (16, 32, 64, 96)
    embed: int = 128
    head_channels: int = 128
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    #: Half-width (grid steps) of the window around the peak used for the soft-argmax.
    refine_radius: int = 3

    def validate(self, where: str) -> None:
        _positive(where, widths=self.widths, dilations=self.dilations)
        _positive(where, sizes=(self.slice_size, self.embed, self.head_channels, self.context))
        if self.context % 2 != 1:
            raise BundleError(f"{where}: context must be an odd number of slices.")
        if not self.z_step_mm > 0:
            raise BundleError(f"{where}: z_step_mm must be positive.")
        if self.slice_size % (2 ** len(self.widths)) != 0:
            raise BundleError(f"{where}: slice_size must be divisible by 2**len(widths).")
        if self.refine_radius < 0:
            raise BundleError(f"{where}: refine_radius must not be negative.")


#: Level-finder architectures and their parameter records.
LEVEL_FINDER_ARCHITECTURES: dict[str, type] = {
    "vgg11_3d": VGG3DParams,
    "slice_encoder_1d": SliceEncoderParams,
}


@dataclass(frozen=True)
class LevelFinderSpec:
    """The level finder: architecture, its parameters, input intensity and weights."""

    architecture: str = "slice_encoder_1d"
    params: VGG3DParams | SliceEncoderParams = field(default_factory=SliceEncoderParams)
    normalization: Normalization = field(default_factory=Normalization)
    outputs: tuple[str, ...] = LEVEL_OUTPUTS
    weights: FileRef | None = None

    def validate(self, where: str = "level_finder") -> None:
        kind = LEVEL_FINDER_ARCHITECTURES.get(self.architecture)
        if kind is None:
            raise BundleError(
                f"{where}: unknown architecture '{self.architecture}' "
                f"(known: {', '.join(LEVEL_FINDER_ARCHITECTURES)})."
            )
        if not isinstance(self.params, kind):
            raise BundleError(f"{where}: parameters do not belong to '{self.architecture}'.")
        self.params.validate(f"{where}.params")
        self.normalization.validate(f"{where}.normalization")
        if sorted(self.outputs) != sorted(LEVEL_OUTPUTS):
            raise BundleError(f"{where}: outputs must be the five levels L1..L5, got {list(self.outputs)}.")
        if self.weights is not None:
            self.weights.validate(f"{where}.weights")


@dataclass(frozen=True)
class ScorerSpec:
    """The slice scorer: a timm ConvNeXt with one input channel and three outputs."""

    architecture: str = "convnext_atto"
    input_size: int = SCORER_INPUT_SIZE
    normalization: Normalization = field(default_factory=Normalization)
    outputs: tuple[str, ...] = SCORE_OUTPUTS
    weights: FileRef | None = None

    def validate(self, where: str = "scorer") -> None:
        if not SCORER_ARCHITECTURE.match(self.architecture):
            raise BundleError(
                f"{where}: unknown architecture '{self.architecture}': the scorer is a timm ConvNeXt "
                f"(e.g. {', '.join(SCORER_ARCHITECTURES)})."
            )
        if self.input_size < 32 or self.input_size % 32 != 0:
            raise BundleError(
                f"{where}: input_size must be a positive multiple of 32, got {self.input_size}."
            )
        self.normalization.validate(f"{where}.normalization")
        if sorted(self.outputs) != sorted(SCORE_OUTPUTS):
            raise BundleError(f"{where}: outputs must be TOT, GG and RET, got {list(self.outputs)}.")
        if self.weights is not None:
            self.weights.validate(f"{where}.weights")


@dataclass(frozen=True)
class HeatmapSpec:
    """Replacement heat maps (the paper): patch, stride, edge fade, threshold and the healthy texture."""

    patch: int = HEATMAP_PATCH
    stride: int = HEATMAP_STRIDE
    #: Side of the box blur that fades the lung-cropped patch at its edge (the authors: 5).
    blur: int = 5
    #: Heat-map-derived score: pixels below this change (score points) count as diseased.
    threshold: float = HEATMAP_DEFAULT_THRESHOLD
    #: The healthy-texture patch (HU, ``patch`` x ``patch``), tensor ``texture_hu`` in this file.
    texture: FileRef | None = None
    #: Where the texture was cut (scan, slice, position), for provenance.
    texture_source: str = ""

    def validate(self, where: str = "heatmap") -> None:
        _positive(where, sizes=(self.patch, self.stride, self.blur))
        if self.blur % 2 != 1:
            raise BundleError(f"{where}: blur must be an odd number of pixels.")
        if self.stride > self.patch:
            raise BundleError(f"{where}: a stride longer than the patch would leave gaps.")
        if self.texture is not None:
            self.texture.validate(f"{where}.texture")


@dataclass(frozen=True)
class BundleSpec:
    """Everything in ``spec.json``."""

    display_name: str
    level_finder: LevelFinderSpec = field(default_factory=LevelFinderSpec)
    scorer: ScorerSpec = field(default_factory=ScorerSpec)
    heatmap: HeatmapSpec = field(default_factory=HeatmapSpec)
    description: str = ""
    #: Training provenance: command, data, seeds, code version, date (free-form JSON object).
    provenance: dict[str, Any] = field(default_factory=dict)
    #: Evaluation figures (free-form JSON object, e.g. level MAE per level, scorer kappa).
    evaluation: dict[str, Any] = field(default_factory=dict)
    format: str = BUNDLE_FORMAT
    format_version: int = BUNDLE_FORMAT_VERSION

    def validate(self) -> None:
        if self.format != BUNDLE_FORMAT:
            raise BundleError(f"spec.json is not a model bundle spec (format '{self.format}').")
        if not 1 <= self.format_version <= BUNDLE_FORMAT_VERSION:
            raise BundleError(
                f"The bundle has format version {self.format_version}; this workstation reads up to "
                f"{BUNDLE_FORMAT_VERSION}.",
                hint="Update the workstation to open this bundle.",
            )
        if not self.display_name.strip():
            raise BundleError("The bundle has no display name.")
        self.level_finder.validate()
        self.scorer.validate()
        self.heatmap.validate()

    # --- JSON ----------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return _to_json(self)

    @classmethod
    def from_json(cls, obj: object) -> BundleSpec:
        """Parse and validate; raises :class:`BundleError` naming the first bad field."""
        spec = _parse(cls, obj, "spec")
        spec.validate()
        return spec

    def canonical_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, no spaces): the input of :meth:`content_hash`."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), allow_nan=False).encode()

    def content_hash(self) -> str:
        """SHA-256 of the canonical spec; it covers every file through their hashes (the bundle hash)."""
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    def files(self) -> dict[str, FileRef]:
        """The files the spec names, by role."""
        out: dict[str, FileRef] = {}
        if self.level_finder.weights is not None:
            out["level_finder"] = self.level_finder.weights
        if self.scorer.weights is not None:
            out["scorer"] = self.scorer.weights
        if self.heatmap.texture is not None:
            out["texture"] = self.heatmap.texture
        return out


# --- strict (de)serialisation ------------------------------------------------------------------------


def _positive(where: str, **groups: tuple[int | float, ...]) -> None:
    for name, values in groups.items():
        if not values or any(not (isinstance(v, (int, float)) and v > 0) for v in values):
            raise BundleError(f"{where}: {name} must be positive numbers, got {list(values)}.")


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    return value


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _parse(tp: Any, obj: object, where: str) -> Any:
    """Convert JSON ``obj`` to type ``tp`` strictly (dataclasses, tuples, unions with None, scalars)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if obj is None and type(None) in args:
            return None
        candidates = [a for a in args if a is not type(None)]
        if len(candidates) == 1:
            return _parse(candidates[0], obj, where)
        raise BundleError(f"{where}: ambiguous value")  # resolved by the caller (level-finder params)
    if dataclasses.is_dataclass(tp):
        if not isinstance(obj, dict):
            raise BundleError(f"{where} must be a JSON object.")
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        unknown = sorted(set(obj) - names)
        if unknown:
            raise BundleError(f"{where}: unknown field '{unknown[0]}' (is the bundle from a newer version?).")
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(tp):
            if f.name not in obj:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise BundleError(f"{where}: the field '{f.name}' is missing.")
                continue
            if tp is LevelFinderSpec and f.name == "params":
                continue  # depends on the architecture: parsed below
            kwargs[f.name] = _parse(hints[f.name], obj[f.name], f"{where}.{f.name}")
        if tp is LevelFinderSpec:
            arch = kwargs.get("architecture", LevelFinderSpec.architecture)
            params_type = LEVEL_FINDER_ARCHITECTURES.get(arch)
            if params_type is None:
                raise BundleError(
                    f"{where}: unknown architecture '{arch}' "
                    f"(known: {', '.join(LEVEL_FINDER_ARCHITECTURES)})."
                )
            kwargs["params"] = _parse(params_type, obj.get("params", {}), f"{where}.params")
        return tp(**kwargs)  # type: ignore[operator]
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(obj, list):
            raise BundleError(f"{where} must be a JSON list.")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_parse(args[0], v, f"{where}[{i}]") for i, v in enumerate(obj))
        if len(obj) != len(args):
            raise BundleError(f"{where} must have {len(args)} entries, got {len(obj)}.")
        return tuple(_parse(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, obj)))
    if origin is dict:
        if not isinstance(obj, dict):
            raise BundleError(f"{where} must be a JSON object.")
        return dict(obj)
    if tp is bool:
        if not isinstance(obj, bool):
            raise BundleError(f"{where} must be true or false.")
        return obj
    if tp is int:
        if isinstance(obj, bool) or not isinstance(obj, int):
            raise BundleError(f"{where} must be a whole number, got {obj!r}.")
        return obj
    if tp is float:
        if isinstance(obj, bool) or not isinstance(obj, (int, float)):
            raise BundleError(f"{where} must be a number, got {obj!r}.")
        return float(obj)
    if tp is str:
        if not isinstance(obj, str):
            raise BundleError(f"{where} must be text, got {obj!r}.")
        return obj
    raise BundleError(f"{where}: cannot read a value of type {_type_name(tp)}.")  # pragma: no cover


# --- ready-made specs ------------------------------------------------------------------------------------


def cpu_default_spec(display_name: str, **fields: Any) -> BundleSpec:
    """The default for CPU workstations: fast 2.5D/1-D level finder + ConvNeXt-Atto scorer."""
    return BundleSpec(
        display_name=display_name,
        level_finder=LevelFinderSpec("slice_encoder_1d", SliceEncoderParams()),
        scorer=ScorerSpec("convnext_atto"),
        **fields,
    )


def paper_spec(display_name: str, **fields: Any) -> BundleSpec:
    """The paper's cascade: 3-D VGG-11 level network (256-grid, 192-slice windows) + ConvNeXt-Tiny."""
    return BundleSpec(
        display_name=display_name,
        level_finder=LevelFinderSpec("vgg11_3d", VGG3DParams()),
        scorer=ScorerSpec("convnext_tiny"),
        **fields,
    )
