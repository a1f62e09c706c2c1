"""Injected faults, for the tests of the grader's own fault handling only.

``GRU_GRADER_FAULTS="kill-kernel-after-start=STUDENT:N"`` kills the kernel of each of
STUDENT's notebooks right after it started, before the learner's first cell, in its first
N attempts. Read in the grading worker; kernels never see the variable.
"""
import os


def _plan():
    spec = os.environ.get("GRU_GRADER_FAULTS", "")
    plan = {}
    for item in filter(None, spec.split(",")):
        name, _, arg = item.partition("=")
        student, _, times = arg.rpartition(":")
        plan[name.strip()] = (student, int(times or 1))
    return plan


def after_kernel_start(sub, attempt, session):
    student, times = _plan().get("kill-kernel-after-start", (None, 0))
    if sub is not None and sub.student == student and attempt < times:
        process = session.km.provisioner.process
        process.end()
        process.wait(5)
