"""Issue 14 defect 8: the demo prints plain lines when its output is not a terminal (`make demo | tee log`)."""

from __future__ import annotations

import io

from rich.console import Console

from plantcarbon.demo import plain_lines


def test_demo_output_piped_to_a_file_gets_plain_lines() -> None:
    assert plain_lines(False, Console(file=io.StringIO())) is True


def test_demo_on_a_terminal_keeps_the_live_view_unless_plain_is_asked() -> None:
    tty = Console(file=io.StringIO(), force_terminal=True)
    assert plain_lines(False, tty) is False
    assert plain_lines(True, tty) is True
