"""Model bundles: round trip, verification, refusal of tampered/truncated/mismatched bundles, no pickle."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ssc_core.ai.bundle import (
    SCORER_FILE,
    default_bundle_path,
    inspect_bundle,
    load_bundle,
    save_bundle,
    save_untrained_bundle,
)
from ssc_core.ai.spec import SPEC_FILE, BundleSpec, ScorerSpec, cpu_default_spec, paper_spec
from ssc_core.errors import BundleError
from ssc_core.fileio import sha256_file
from tests.core.ai.conftest import healthy_texture, small_spec


def edit_spec(folder: Path, change) -> None:
    obj = json.loads((folder / SPEC_FILE).read_text())
    change(obj)
    (folder / SPEC_FILE).write_text(json.dumps(obj))


def test_round_trip_verifies_and_reproduces_the_networks(small_bundle_dir):
    bundle = load_bundle(small_bundle_dir)
    assert bundle.display_name == "test bundle"
    assert bundle.spec.provenance == {"seed": 0}
    assert bundle.texture_hu.shape == (64, 64)
    assert np.allclose(bundle.texture_hu, healthy_texture())
    spec, digest = inspect_bundle(small_bundle_dir)
    assert digest == bundle.hash == spec.content_hash()
    assert len(bundle.hash) == 64
    # The same seed gives the same networks: the weights were stored and restored exactly.
    torch.manual_seed(0)
    from ssc_core.ai.networks import build_level_finder_net, build_scorer_net

    lf, sc = build_level_finder_net(spec.level_finder), build_scorer_net(spec.scorer)
    for a, b in ((lf, bundle.level_finder_net), (sc, bundle.scorer_net)):
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
            assert ka == kb
            assert torch.equal(va, vb)
    assert not bundle.scorer_net.training
    assert not bundle.level_finder_net.training


def test_spec_json_round_trip_and_hash_changes_with_content():
    spec = cpu_default_spec("A", evaluation={"level_mae_mm": [4.0, 3.1, 3.3, 2.9, 2.5]})
    again = BundleSpec.from_json(json.loads(json.dumps(spec.to_json())))
    assert again == spec
    assert again.content_hash() == spec.content_hash()
    assert cpu_default_spec("B").content_hash() != cpu_default_spec("A").content_hash()
    paper = paper_spec("paper")
    assert paper.level_finder.architecture == "vgg11_3d"
    assert paper.scorer.architecture == "convnext_tiny"
    assert BundleSpec.from_json(paper.to_json()) == paper


def test_inspect_bundle_does_not_import_torch(small_bundle_dir):
    code = (
        "import sys; from ssc_core.ai.bundle import inspect_bundle; "
        f"spec, h = inspect_bundle({str(small_bundle_dir)!r}); "
        "assert 'torch' not in sys.modules, 'torch imported'; print(spec.display_name)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "test bundle"


def test_tampered_weights_are_refused(bundle_copy):
    path = bundle_copy / SCORER_FILE
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # one flipped bit pattern deep inside a tensor
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="SHA-256 differs"):
        load_bundle(bundle_copy)
    with pytest.raises(BundleError, match="changed, truncated or replaced"):
        inspect_bundle(bundle_copy)


def test_truncated_weights_are_refused_even_with_a_matching_hash(bundle_copy):
    path = bundle_copy / SCORER_FILE
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BundleError, match="SHA-256"):
        load_bundle(bundle_copy)
    # Someone also "fixed" the hash in the spec: the file is still not a readable safetensors file.
    edit_spec(bundle_copy, lambda o: o["scorer"]["weights"].update(sha256=sha256_file(path)))
    with pytest.raises(BundleError, match="not a readable safetensors file"):
        load_bundle(bundle_copy)


def test_missing_files_and_spec_are_refused(bundle_copy, tmp_path):
    (bundle_copy / "texture.safetensors").unlink()
    with pytest.raises(BundleError, match=r"texture file 'texture\.safetensors' is missing"):
        load_bundle(bundle_copy)
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BundleError, match=r"no spec\.json"):
        load_bundle(empty)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda o: o.update(surprise=1), "unknown field 'surprise'"),
        (lambda o: o.update(format_version=99), "format version 99"),
        (lambda o: o.update(format="something-else"), "not a model bundle spec"),
        (lambda o: o["scorer"].update(architecture="resnet50"), "unknown architecture 'resnet50'"),
        (lambda o: o["scorer"].update(input_size="512"), "must be a whole number"),
        (lambda o: o["scorer"].update(outputs=["TOT", "GG", "GG"]), "outputs must be TOT, GG and RET"),
        (lambda o: o["level_finder"].update(architecture="unet"), "unknown architecture 'unet'"),
        (lambda o: o["level_finder"]["params"].update(context=2), "context must be an odd number"),
        (lambda o: o["heatmap"].update(stride=100), "stride longer than the patch"),
        (lambda o: o.pop("display_name"), "'display_name' is missing"),
        (lambda o: o["scorer"]["weights"].update(file="../scorer.safetensors"), "not an allowed bundle file"),
        (
            lambda o: o["scorer"]["weights"].update(file="/etc/scorer.safetensors"),
            "not an allowed bundle file",
        ),
        (lambda o: o["scorer"]["weights"].update(sha256="abc"), "not 64 lowercase hex digits"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(bundle_copy, change, message):
    edit_spec(bundle_copy, change)
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle_copy)


def test_invalid_json_is_refused(bundle_copy):
    (bundle_copy / SPEC_FILE).write_text('{"display_name": ')
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(bundle_copy)


def test_weights_of_another_architecture_are_refused(bundle_copy):
    # The spec now claims a femto scorer; the (hash-valid) weights are an atto's.
    edit_spec(bundle_copy, lambda o: o["scorer"].update(architecture="convnext_femto"))
    with pytest.raises(BundleError, match=r"do not match the spec: '.*' has shape"):
        load_bundle(bundle_copy)


def test_weights_with_missing_or_extra_tensors_are_refused(tmp_path, small_bundle_dir):
    from safetensors.torch import load_file, save_file

    for mutate, message in (
        (lambda t: t.pop(next(iter(t))), "missing"),
        (lambda t: t.update(extra=torch.zeros(3)), "unexpected"),
    ):
        folder = tmp_path / message
        import shutil

        shutil.copytree(small_bundle_dir, folder)
        tensors = load_file(str(folder / SCORER_FILE))
        mutate(tensors)
        save_file(tensors, str(folder / SCORER_FILE))
        edit_spec(
            folder, lambda o, f=folder: o["scorer"]["weights"].update(sha256=sha256_file(f / SCORER_FILE))
        )
        with pytest.raises(BundleError, match=message):
            load_bundle(folder)


def test_save_refuses_mismatched_networks_and_non_empty_folders(tmp_path, small_bundle_dir):
    from ssc_core.ai.networks import build_level_finder_net, build_scorer_net

    spec = small_spec()
    other = build_scorer_net(ScorerSpec("convnext_femto"))
    with pytest.raises(BundleError, match="scorer weights do not match"):
        save_bundle(
            tmp_path / "b", spec, level_finder=build_level_finder_net(spec.level_finder), scorer=other
        )
    assert not (tmp_path / "b").exists()  # nothing half-written
    with pytest.raises(BundleError, match="not empty"):
        save_untrained_bundle(small_bundle_dir, spec)
    with pytest.raises(BundleError, match="finite 64 x 64 patch"):
        save_untrained_bundle(tmp_path / "c", spec, texture_hu=np.zeros((8, 8)))


def test_default_bundle_gives_a_clear_error_until_it_exists():
    if (default_bundle_path() / SPEC_FILE).exists():
        pytest.skip("the demo bundle is installed")
    with pytest.raises(BundleError, match="demo model bundle is not installed"):
        load_bundle(None)
    assert default_bundle_path().parts[-3:] == ("resources", "models", "demo")


# --- malicious pickles ---------------------------------------------------------------------------------


class _Payload:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def plant_pickles(folder: Path, marker: Path) -> bytes:
    data = pickle.dumps({"state_dict": _Payload(marker)})
    for name in ("scorer.pt", "scorer.pth", "pytorch_model.bin", "model.ckpt", "level_finder.pt"):
        (folder / name).write_bytes(data)
    return data


def test_malicious_pickle_is_never_unpickled(bundle_copy, tmp_path):
    marker = tmp_path / "marker.txt"
    data = plant_pickles(bundle_copy, marker)

    # The payload is live: unpickling it (in a child process) does create the marker.
    probe = tmp_path / "probe.txt"
    child = f"import pickle, sys; from pathlib import Path; pickle.loads({pickle.dumps(_Payload(probe))!r})"
    subprocess.run([sys.executable, "-c", child], check=True, cwd=Path(__file__).resolve().parents[3])
    assert probe.exists()

    # Pickles lying beside the weights (where a naive loader looks) are ignored: the bundle loads.
    load_bundle(bundle_copy)
    assert not marker.exists()

    # With the real weights gone, the pickles are not taken instead: the bundle is refused as incomplete.
    weights = (bundle_copy / SCORER_FILE).read_bytes()
    (bundle_copy / SCORER_FILE).unlink()
    with pytest.raises(BundleError, match="incomplete"):
        load_bundle(bundle_copy)
    assert not marker.exists()
    (bundle_copy / SCORER_FILE).write_bytes(weights)

    # A spec pointing at a pickle, with its correct hash, is refused before the file is opened.
    edit_spec(
        bundle_copy,
        lambda o: o["scorer"]["weights"].update(
            file="scorer.pt", sha256=sha256_file(bundle_copy / "scorer.pt")
        ),
    )
    with pytest.raises(BundleError, match="not an allowed bundle file"):
        load_bundle(bundle_copy)
    assert not marker.exists()

    # The pickle renamed to .safetensors (hash updated): safetensors reads no code, the file is refused.
    (bundle_copy / "evil.safetensors").write_bytes(data)
    edit_spec(
        bundle_copy,
        lambda o: o["scorer"]["weights"].update(
            file="evil.safetensors", sha256=sha256_file(bundle_copy / "evil.safetensors")
        ),
    )
    with pytest.raises(BundleError, match="not a readable safetensors file"):
        load_bundle(bundle_copy)
    assert not marker.exists()


def test_symlink_out_of_the_bundle_is_refused(bundle_copy, tmp_path):
    outside = tmp_path / "outside.safetensors"
    outside.write_bytes((bundle_copy / SCORER_FILE).read_bytes())
    (bundle_copy / SCORER_FILE).unlink()
    (bundle_copy / SCORER_FILE).symlink_to(outside)
    with pytest.raises(BundleError, match="outside the bundle folder"):
        load_bundle(bundle_copy)
