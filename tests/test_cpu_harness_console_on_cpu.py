"""The harness reads verl's console step lines, whose values some trainers print as numpy reprs."""

from polyepo_plugin.cpu_harness.console import parse_step_line


def test_numpy_reprs_and_plain_numbers_are_read_and_text_is_left_out():
    line = "(OneStepTaskRunner pid=1) step:2 - training/global_step:2 - actor/grad_norm:np.float64(0.78) - n:np.int32(2) - lr:1e-06 - name:cpu"
    assert parse_step_line(line) == (2, {"training/global_step": 2.0, "actor/grad_norm": 0.78, "n": 2.0, "lr": 1e-06})
