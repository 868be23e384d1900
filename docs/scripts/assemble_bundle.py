"""Assemble the demo bundle from two runs of `ssc train` made on different machines (same phantom cohort,
same split): the level finder trained on this 2-core CPU machine, the scorer on an H100. The scorer's own
bundle came back without its (untrained) level finder, so it is merged here with update_bundle, the function
`ssc train` itself uses to write one network into a bundle that holds the other."""

import shutil
import sys
from pathlib import Path

from safetensors.torch import load_file

from ssc_core.ai.bundle import TEXTURE_TENSOR, read_spec, update_bundle

levels, scorer, out = (Path(a) for a in sys.argv[1:4])
note = sys.argv[4] if len(sys.argv) > 4 else ""
if out.exists():
    shutil.rmtree(out)
shutil.copytree(levels, out)
sspec = read_spec(scorer)
weights = load_file(str(scorer / sspec.scorer.weights.file))
texture = load_file(str(scorer / sspec.heatmap.texture.file))[TEXTURE_TENSOR].numpy()
prov = dict(sspec.provenance["scorer"])
if note:
    prov["note"] = note
update_bundle(
    out,
    scorer=weights,
    scorer_spec=sspec.scorer,
    texture_hu=texture,
    texture_source=sspec.heatmap.texture_source,
    provenance={"scorer": prov},
    evaluation={"scorer": sspec.evaluation["scorer"]},
)
print(read_spec(out).display_name)
