"""The chapter-6 experiments of the book: the optimizer race, the activation histograms.

Each module holds its defaults, its choices and its limits in one place, which the API's models
and the page read.
"""

from engine.experiments.activations import (
    ACTIVATION_DEFAULTS,
    ACTIVATION_LIMITS,
    ACTIVATIONS,
    INITS,
    ActivationSettings,
    LayerHistogram,
    activation_histograms,
    init_scale,
)
from engine.experiments.race import (
    FUNCTIONS,
    RACE_DEFAULTS,
    RACE_LIMITS,
    Contours,
    RaceSettings,
    RaceStep,
    TestFunction,
    arrivals,
    contours,
    race,
)

__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_DEFAULTS",
    "ACTIVATION_LIMITS",
    "FUNCTIONS",
    "INITS",
    "RACE_DEFAULTS",
    "RACE_LIMITS",
    "ActivationSettings",
    "Contours",
    "LayerHistogram",
    "RaceSettings",
    "RaceStep",
    "TestFunction",
    "activation_histograms",
    "arrivals",
    "contours",
    "init_scale",
    "race",
]
