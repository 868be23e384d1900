"""Network definitions and the factory."""

from __future__ import annotations

import subprocess
import sys

import pytest
import timm
import torch
from torch import nn

from ssc_core.ai.networks import (
    VGG11_3D,
    SliceEncoder1D,
    build_network,
    build_scorer_net,
    check_state_dict,
    load_matching,
)
from ssc_core.ai.spec import (
    LevelFinderSpec,
    ScorerSpec,
    SliceEncoderParams,
    VGG3DParams,
)
from ssc_core.errors import BundleError


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_vgg11_3d_matches_the_authors_code():
    net = VGG11_3D()
    # Linear 27648 -> 1024 -> 1024 -> 5 dominates; conv widths 8-16-32-32-64-64-128-128 (kernel 3).
    widths = (8, 16, 32, 32, 64, 64, 128, 128)
    conv = sum(27 * ci * co + co for ci, co in zip((1, *widths[:-1]), widths))
    bn = sum(2 * w for w in widths)
    fc = (27648 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 5 + 5)
    assert n_params(net) == conv + bn + fc == 30_243_301
    kinds = [type(m).__name__ for m in net.features]
    assert kinds[:4] == ["Conv3d", "ReLU", "BatchNorm3d", "MaxPool3d"]  # conv, ReLU, then BatchNorm
    assert kinds.count("Conv3d") == 8
    assert kinds.count("MaxPool3d") == 5
    pools = [m for m in net.features if isinstance(m, nn.MaxPool3d)]
    assert all(m.kernel_size == 3 and m.stride == 2 for m in pools)
    assert all(m.padding == (1, 1, 1) for m in net.features if isinstance(m, nn.Conv3d))
    assert net.pool.output_size == 6
    drops = [m.p for m in net.regressor if isinstance(m, nn.Dropout)]
    assert drops == [0.5, 0.5]
    with torch.inference_mode():
        out = net.eval()(torch.rand(2, 1, 64, 64, 64))  # the smallest input five k3/s2 pools allow
    assert out.shape == (2, 5)


def test_vgg_pooling_chain_on_the_paper_window():
    # 192 x 256 x 256 -> five MaxPool3d(3, 2) -> 5 x 7 x 7 (checked without running the 3-D convs).
    size = torch.tensor([192, 256, 256])
    for _ in range(5):
        size = (size - 3) // 2 + 1
    assert size.tolist() == [5, 7, 7]


@pytest.mark.parametrize("n", [1, 7, 40])
def test_slice_encoder_outputs_per_level_heat_maps(n):
    p = SliceEncoderParams(slice_size=32, widths=(8, 16), embed=16, head_channels=16, dilations=(1, 2, 4))
    net = SliceEncoder1D(p).eval()
    with torch.inference_mode():
        out = net(torch.rand(2, n, 32, 32))
    assert out.shape == (2, 5, n + 2)
    assert torch.isfinite(out).all()


def test_slice_encoder_default_has_wide_z_context():
    p = SliceEncoderParams()
    reach_steps = 2 * sum(p.dilations) + p.context  # 1-D head + 2.5D context
    assert reach_steps * p.z_step_mm > 300  # sees the whole thorax around each position


def test_factory_builds_each_architecture():
    assert isinstance(build_network(LevelFinderSpec("vgg11_3d", VGG3DParams())), VGG11_3D)
    assert isinstance(build_network(LevelFinderSpec()), SliceEncoder1D)
    scorer = build_network(ScorerSpec("convnext_atto", input_size=128))
    assert scorer.stem[0].in_channels == 1
    assert scorer.num_classes == 3
    with torch.inference_mode():
        assert scorer(torch.rand(1, 1, 128, 128)).shape == (1, 3)
    tiny = build_scorer_net(ScorerSpec("convnext_tiny"))
    assert 27e6 < n_params(tiny) < 29e6  # the paper's ConvNeXt-Tiny with a 1-channel stem and 3 outputs


def test_local_pretrained_weights_load_except_stem_and_head(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(1)
    imagenet_like = timm.create_model("convnext_atto", pretrained=False)  # 3 channels, 1000 classes
    path = tmp_path / "atto_in1k.safetensors"
    save_file({k: v.contiguous() for k, v in imagenet_like.state_dict().items()}, str(path))
    net = build_scorer_net(ScorerSpec("convnext_atto"), pretrained=path)
    skipped = load_matching(net, path)
    assert set(skipped) == {"stem.0.weight", "head.fc.weight", "head.fc.bias"}
    ref = imagenet_like.state_dict()
    assert torch.equal(
        net.state_dict()["stages.2.blocks.3.conv_dw.weight"], ref["stages.2.blocks.3.conv_dw.weight"]
    )
    assert net.stem[0].weight.shape[1] == 1


def test_check_state_dict_refuses_non_finite_weights():
    net = build_network(LevelFinderSpec())
    state = {k: v.clone() for k, v in net.state_dict().items()}
    state["position.weight"][0, 0, 0] = float("nan")
    with pytest.raises(BundleError, match="non-finite"):
        check_state_dict(net, state, "level finder")


def test_importing_the_ai_package_does_not_import_torch():
    code = (
        "import sys; import ssc_core.ai, ssc_core.ai.spec, ssc_core.ai.results, ssc_core.ai.bundle, "
        "ssc_core.ai.geometry, ssc_core.ai.cli; from ssc_core.ai import load_bundle, BundleSpec; "
        "bad = [m for m in ('torch', 'timm', 'pandas', 'SimpleITK') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_gpu_benchmark_needs_no_simpleitk_or_pydicom():
    """The GPU machine has torch, timm, numpy, scipy and safetensors only."""
    code = (
        "import sys; import ssc_core.ai.cascade, ssc_core.ai.bundle, ssc_core.ai.spec, ssc_core.ai.heatmap; "
        "bad = [m for m in ('SimpleITK', 'pydicom', 'pandas', 'PySide6', 'psutil') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_any_timm_convnext_is_a_scorer_but_nothing_else():
    v2 = build_scorer_net(ScorerSpec("convnextv2_atto", input_size=64))
    assert v2.num_classes == 3
    with pytest.raises(BundleError, match="no model named"):
        build_scorer_net(ScorerSpec("convnext_imaginary"))
    with pytest.raises(BundleError, match="timm ConvNeXt"):
        ScorerSpec("resnet50").validate()
