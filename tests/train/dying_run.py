"""A training run that kills its own process (SIGKILL) mid-way: the test of --resume."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def train_then_die(config_path: str, run_dir: str, die_after_step: int) -> None:
    from transformers import TrainerCallback

    from kubebench.train.config import load_config
    from kubebench.train.fit import train

    class Die(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
            if state.global_step >= die_after_step:
                os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, as a real kill

    train(load_config(Path(config_path)), Path(run_dir), callbacks=[Die()])
