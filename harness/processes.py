"""A service started as a process group of its own, stopped or killed as a whole."""

from __future__ import annotations

import os
import signal
import subprocess


class ProcessGroup:
    """Something run with ``start_new_session=True``: ``proc`` leads its process group."""

    proc: subprocess.Popen[bytes] | None = None

    def kill(self) -> None:
        """SIGKILL the process and every process it started (a crash, a machine lost)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop it gracefully (SIGTERM to the group), then make sure it is gone."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
