"""Evaluation: SMPQA-style benchmark generation, the evaluation harness, language fidelity."""
from mixkit.evaluation.harness import EvalError, evaluate, results_tables
from mixkit.evaluation.smpqa import SmpqaError, SmpqaOptions, coverage_report, generate_smpqa, read_smpqa

__all__ = ["EvalError", "SmpqaError", "SmpqaOptions", "coverage_report", "evaluate", "generate_smpqa",
           "read_smpqa", "results_tables"]
