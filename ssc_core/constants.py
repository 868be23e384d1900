"""The single home of domain constants.

Sources: Goh et al., Am J Respir Crit Care Med 177:57-59 (2008) for the five levels, the visual extent
scores and the 20 % staging threshold; Jia et al., Sci Rep (2024), doi 10.1038/s41598-024-78393-4 for the
cascade (network HU clip, heat-map patch and stride).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Level(enum.IntEnum):
    """The five Goh levels, numbered cranial (L1) to caudal (L5)."""

    L1 = 1
    L2 = 2
    L3 = 3
    L4 = 4
    L5 = 5

    @property
    def label(self) -> str:
        """Short name shown in the GUI and used in exports ("L1".."L5")."""
        return self.name

    @property
    def definition(self) -> str:
        """Anatomical definition of the level (Goh 2008)."""
        return LEVEL_DEFINITIONS[self]

    @classmethod
    def parse(cls, value: object) -> Level:
        """Accept 1..5, "1".."5" or "L1".."L5" (case-insensitive)."""
        text = str(value).strip().upper()
        if text.startswith("L"):
            text = text[1:]
        try:
            return cls(int(text))
        except (ValueError, TypeError):
            raise ValueError(f"{value!r} is not a level (expected L1..L5 or 1..5)") from None


LEVELS: tuple[Level, ...] = tuple(Level)

LEVEL_DEFINITIONS: dict[Level, str] = {
    Level.L1: "origin of the great vessels (from the aortic arch)",
    Level.L2: "main carina (tracheal bifurcation)",
    Level.L3: "pulmonary venous confluence",
    Level.L4: "halfway between L3 and L5",
    Level.L5: "1 cm above the top of the right hemidiaphragm",
}

#: L5 lies this far (mm) above the top of the right hemidiaphragm dome.
L5_ABOVE_RIGHT_DOME_MM = 10.0


class Pattern(str, enum.Enum):
    """Scored patterns: total extent and its two components."""

    TOT = "TOT"
    GG = "GG"
    RET = "RET"

    @property
    def long_name(self) -> str:
        return PATTERN_NAMES[self]


PATTERNS: tuple[Pattern, ...] = tuple(Pattern)

PATTERN_NAMES: dict[Pattern, str] = {
    Pattern.TOT: "total disease extent",
    Pattern.GG: "ground glass opacity",
    Pattern.RET: "reticulation",
}

# Score grid: percentages of the lung area on the slice, 0..100 in steps of 5 (21 categories).
SCORE_MIN = 0
SCORE_MAX = 100
SCORE_STEP = 5
SCORE_GRID: tuple[int, ...] = tuple(range(SCORE_MIN, SCORE_MAX + 1, SCORE_STEP))

#: Goh staging: a global extent strictly above this percentage is "extensive" disease, otherwise "limited".
GOH_EXTENSIVE_THRESHOLD = 20.0

# Likert scale for heat-map explainability ratings.
LIKERT_SCALE: tuple[int, ...] = (1, 2, 3, 4, 5)
LIKERT_LABELS: dict[int, str] = {
    1: "Strongly disagree",
    2: "Disagree",
    3: "Neutral",
    4: "Agree",
    5: "Strongly agree",
}
#: Ratings counted as "agreement" in the paper's summary (4 or 5).
LIKERT_AGREE: frozenset[int] = frozenset({4, 5})


@dataclass(frozen=True)
class HUWindow:
    """A display window in Hounsfield units."""

    name: str
    width: float
    level: float

    @property
    def lower(self) -> float:
        return self.level - self.width / 2.0

    @property
    def upper(self) -> float:
        return self.level + self.width / 2.0


# Standard radiology presets (lung W1500/L-600, mediastinum W350/L40).
LUNG_WINDOW = HUWindow("Lung", 1500.0, -600.0)
MEDIASTINUM_WINDOW = HUWindow("Mediastinum", 350.0, 40.0)
WINDOW_PRESETS: tuple[HUWindow, ...] = (LUNG_WINDOW, MEDIASTINUM_WINDOW)
#: Name of the reader's own window (set by right-drag or typed); it is not a fixed preset.
CUSTOM_WINDOW_NAME = "Custom"
#: Bounds of an interactively set window (HU): a width under 1 HU is meaningless, and levels beyond the
#: plausible stored range show nothing.
WINDOW_WIDTH_LIMITS = (1.0, 8000.0)
WINDOW_LEVEL_LIMITS = (-2000.0, 4000.0)

# Hounsfield reference values.
AIR_HU = -1000
WATER_HU = 0
#: Values strictly below this are padding/outside-the-scan-circle and are replaced by air on load
#: (-1024 itself is a real measurement at the bottom of the CT range).
PADDING_FLOOR_HU = -1024
#: Plausible stored HU range of a CT after rescale; outside it a volume is refused as implausible.
PLAUSIBLE_HU_RANGE = (-3100, 32767)

# Network input: HU clipped to this range and scaled linearly to [0, 1] (the paper).
NETWORK_HU_CLIP = (-1500.0, 1500.0)
SCORER_INPUT_SIZE = 512

# Paper's level network (L-Net) geometry.
LNET_RESAMPLED_SHAPE = (256, 256, 256)
LNET_WINDOW_SLICES = 192
LNET_WINDOW_STRIDE = 4

# Replacement heat maps (the paper): 64 px patch moved with stride 16; display range about +-4 points.
HEATMAP_PATCH = 64
HEATMAP_STRIDE = 16
HEATMAP_DISPLAY_RANGE = 4.0
#: The authors' threshold for the heat-map-derived score (tunable between -4 and 0).
HEATMAP_DEFAULT_THRESHOLD = -0.6

#: A slice whose lung area is below this share of the slice is reported as "no lung" instead of scored.
MIN_LUNG_FRACTION = 0.005

# Reader-study protocol.
DEFAULT_WASHOUT_DAYS = 42  # six weeks between a reader's repeat sessions (the paper)

#: File suffix of a study file.
STUDY_SUFFIX = ".sscstudy"

# Agreement statistics (DOMAIN.md section 3).
#: Fewest cases (patients) behind any agreement figure; below it the figure is "not estimable".
MIN_CASES_FOR_AGREEMENT = 2
#: Fewest matched observations (case x level) behind any agreement figure.
MIN_OBSERVATIONS_FOR_AGREEMENT = 2
#: Bland-Altman 95 % limits of agreement: bias +- this many SD of the differences (Bland & Altman 1986).
BLAND_ALTMAN_Z = 1.96
#: Two-sided significance level for the Wilcoxon signed-rank comparisons (the paper).
SIGNIFICANCE_LEVEL = 0.05

# --- CT loading (ssc_core/imaging/loader.py; the policy is documented in docs/architecture.md) ---------

#: A gap between neighbouring slices larger than this multiple of the median spacing means missing slices.
MISSING_SLICE_GAP_FACTOR = 1.5
#: A spacing smaller than this multiple of the median (and not a duplicate) means slices overlap irregularly.
OVERLAP_SPACING_FACTOR = 0.5
#: Two slices closer than this multiple of the median spacing share one position (duplicates; one is kept).
DUPLICATE_POSITION_FACTOR = 0.02
#: Spacings outside (1 +- this) x median, but inside the refusal bounds, load with a warning.
IRREGULAR_SPACING_TOLERANCE = 0.2
#: A slice normal (or volume axis) within this angle of a patient axis counts as lying along that axis.
ORIENTATION_TOLERANCE_DEG = 1.0
#: Sideways drift of the slice stack below this many pixels (over the whole stack) is ignored.
GEOMETRY_TOLERANCE_PIXELS = 0.5
#: Gantry tilts up to this angle are corrected by resampling onto axial planes; larger ones are refused.
MAX_CORRECTED_GANTRY_TILT_DEG = 20.0
#: Largest rows or columns of a CT slice accepted (anything larger is refused before allocation).
MAX_MATRIX_SIZE = 4096
#: Largest number of frames in one multi-frame file, and of slices in one series.
MAX_SLICES = 10_000
#: Largest HU volume (bytes, int16) a loader allocates.
MAX_VOLUME_BYTES = 4 * 1024**3
#: A CT always contains air (lungs, trachea, around the body): without a voxel at or below this the pixel
#: values are not Hounsfield units (typically a missing rescale intercept) and the scan is refused.
PLAUSIBLE_AIR_HU = -500

# --- study file (ssc_core/study) ------------------------------------------------------------------------
#: SQLite ``PRAGMA application_id`` of a study file ("SSCS"), so that foreign SQLite files are recognised.
STUDY_APPLICATION_ID = 0x53534353
#: Length of a pseudonymous case code's random part (base32 characters of a keyed hash: 50 bits).
CASE_CODE_CHARS = 10
#: Consensus sessions list cases/levels where the observers' scores differ by more than this (score points).
CONSENSUS_DISAGREEMENT_POINTS = 10
#: ... or where their level positions differ by more than this (mm of world z).
CONSENSUS_DISAGREEMENT_MM = 10.0
#: Longest time one timing report may add to a case or level (s); longer is a stuck clock, not reading.
MAX_TIME_INCREMENT_S = 4 * 3600.0

# Demo content: a small synthetic phantom cohort generated on first use into the user data directory.
DEMO_COHORT_PATIENTS = 3
DEMO_COHORT_SEED = 2024
DEMO_SLICE_SPACING_MM = 2.5

# Demo study (ssc_core/study/demo.py): a few phantom patients read as a small reader study.
#: Patients of the demo study: with four, the mixed cohort has one healthy patient and one each of mild,
#: moderate and severe disease.
DEMO_STUDY_PATIENTS = 4
#: Bumped whenever the demo study's content changes, so that an older one in the user data folder is rebuilt.
DEMO_STUDY_VERSION = 1
DEMO_STUDY_NAME = "Demo study (synthetic phantoms)"
DEMO_ADMIN_NAME = "Study admin"
DEMO_READER_NAME = "Demo reader"
#: Who records the consensus imported from the phantoms' ground truth.
DEMO_CONSENSUS_READER_NAME = "Expert consensus"
DEMO_CONSENSUS_SESSION = "GT"
DEMO_OBSERVER_SESSION = "T1"
DEMO_REPEAT_SESSION = "T2"
DEMO_RATING_SESSION = "HM"
#: Fixed order seed of the demo sessions (the worklist order is then the same on every machine).
DEMO_ORDER_SEED = 20240

# Reading in the workstation.
#: The reader counts as idle (time on case and level stops) after this long without keyboard or mouse input.
READER_IDLE_TIMEOUT_S = 60.0
#: Accumulated reading time is written to the study at least this often (s), and on every case change.
TIME_FLUSH_INTERVAL_S = 30.0
#: Shortest time worth a write (s); shorter remainders are kept for the next flush.
MIN_TIME_REPORT_S = 0.5
#: Opacity of a heat map drawn over the CT in rating sessions.
HEATMAP_OPACITY = 0.65

# Classical lung mask (the paper's authors: threshold about -140 HU on the body, fill, keep the two largest
# air components that do not touch the image border, morphological clean-up).
#: Pixels below this are air-like (lung, airways, outside air); fat and soft tissue lie above it.
LUNG_MASK_THRESHOLD_HU = -140.0
#: A second air component counts as a lung only if it has at least this share of the largest one's area.
LUNG_MASK_SECOND_MIN_RATIO = 0.02
#: Air components smaller than this (mm^2) are noise, gas in the gut or a small airway, never lung.
LUNG_MASK_MIN_COMPONENT_MM2 = 100.0
#: Radius (mm) of the closing that takes vessels and juxtapleural dense disease at the edge into the mask.
LUNG_MASK_CLOSING_MM = 3.0
#: Holes inside the lung mask up to this area (mm^2) are filled (vessels, lesions); larger enclosed regions
#: are the mediastinum between two lungs that touch, and stay out.
LUNG_MASK_MAX_HOLE_MM2 = 1500.0
#: Volume mode: 3-D air components below this share of the largest are dropped (gas in the stomach/bowel).
LUNG_MASK_MIN_3D_RATIO = 0.05
#: Pixel spacing (mm) assumed when a slice is given without one (a typical chest CT reconstruction).
DEFAULT_PIXEL_SPACING_MM = 0.7

#: The demo model bundle, relative to the workstation's ``resources`` folder (the default of the app and of
#: ``ssc score``; trained on synthetic data, not for clinical use).
DEMO_BUNDLE_SUBDIR = "models/demo"

#: Self-test samples of the transfer syntaxes no shipped library encodes, relative to ``resources``
#: (``ssc-workstation --self-test``; made by ``docs/scripts/make_codec_samples.py``).
SELFTEST_SAMPLES_SUBDIR = "selftest"

# --- training (ssc_core/training) -------------------------------------------------------------------------
# The paper's recipe (Jia et al., Sci Rep 2024; DOMAIN.md section 4) unless stated otherwise.
#: Adam learning rate and weight decay of both networks.
TRAIN_LEARNING_RATE = 1e-4
TRAIN_WEIGHT_DECAY = 1e-4
#: Scorer batch size.
SCORER_BATCH_SIZE = 10
#: Scorer samples per level: the level slice and this many neighbours on each side, all with its label.
SCORER_NEIGHBOURS = 1
#: On-the-fly augmentation of scorer slices: rotation (+- degrees), isotropic scale range, shift (+- pixels).
AUGMENT_ROTATION_DEG = 30.0
AUGMENT_SCALE_RANGE = (0.95, 1.05)
AUGMENT_SHIFT_PX = 10.0
#: Share of synthetic slices among the scorer's training samples (the paper: half).
SYNTHETIC_SHARE = 0.5
#: Data synthesis: GG and RET are each inserted into this many random ellipses (inclusive range) ...
SYNTHESIS_ELLIPSES = (1, 3)
#: ... whose axis lengths (full diameters, pixels at a 512 matrix) are drawn from this range.
SYNTHESIS_AXIS_PX = (1.0, 150.0)
#: Texture rotation (+- degrees) and scale range of the inserted patterns.
SYNTHESIS_TEXTURE_ROTATION_DEG = 180.0
SYNTHESIS_TEXTURE_SCALE_RANGE = (0.95, 1.05)
#: SD (pixels at a 512 matrix) of the Gaussian blur that fades the edge of an inserted ellipse.
SYNTHESIS_FADE_SIGMA_PX = 3.0
#: A slice counts as healthy background for synthesis when its lung covers at least this share of it.
SYNTHESIS_MIN_LUNG_FRACTION = 0.05
#: Cross-validation: folds over the non-test cases, and the share of cases held out as the fixed test set.
CV_FOLDS = 4
TEST_FRACTION = 0.2
#: The paper's level network is trained on random crops of this many slices of the 256-resampled scan.
LNET_TRAIN_CROP = LNET_WINDOW_SLICES
#: The fast level finder is trained on random z-crops covering this share range of the scan's length.
FAST_FINDER_CROP_RANGE = (0.6, 1.0)
#: Width (grid steps) of the Gaussian target around a level's position for the fast level finder.
FAST_FINDER_TARGET_SIGMA = 1.0

# AI in the workstation (app/ai_service.py, ssc_core/ai/service.py).
#: CPU cores left to the GUI while the AI runs on the CPU in its own process (torch gets the others, at
#: least one); the AI process also runs at a lower scheduling priority than the window.
AI_RESERVED_CORES = 1
#: Scan volumes the AI process keeps loaded (the open case and the one prefetched after it).
AI_VOLUME_CACHE = 2
#: The AI process reports progress at most this often (s); the last report of a stage always goes through.
AI_PROGRESS_INTERVAL_S = 0.1
#: Closing the window waits this long (s) for the AI process to stop on its own before ending it.
AI_STOP_TIMEOUT_S = 2.0
#: Heat-map opacity choices of the AI panel's slider (percent): range and default.
HEATMAP_OPACITY_RANGE_PCT = (10, 100)
