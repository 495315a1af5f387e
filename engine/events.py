"""The kinds of event ``engine.trainer.Trainer.run`` yields, named once.

The CLI reads them here; the service's event log (``app/training/events.py``) re-exports
them and adds the kinds only a service has (``running``, ``download``), with each kind's
data typed. The engine never imports the app, so the names live on this side.
"""

from __future__ import annotations

#: One iteration's loss: ``{"iteration", "loss"}``.
PROGRESS = "progress"
#: Per-layer statistics of one step (engine/layer_stats.py): ``{"iteration", "layers"}``.
LAYERS = "layers"
#: The accuracies at an epoch's end: ``{"epoch", "iteration", "train_acc", "test_acc"}``.
EPOCH = "epoch"
#: The end: ``{"status": "completed" | "cancelled", "iterations", "train_acc", "test_acc",
#: "elapsed_s"}``.
DONE = "done"
#: Every kind the trainer yields, in the order they first come.
TRAINER_KINDS = (PROGRESS, LAYERS, EPOCH, DONE)
