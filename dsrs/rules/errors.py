"""The two ways the rules engine fails: a program file that cannot be used, and a household it cannot judge."""

from __future__ import annotations


class ProgramError(ValueError):
    """A program file is malformed; the message names the file, the entry and the problem."""


class RuleEvaluationError(Exception):
    """An expression failed, or returned the wrong type, for one household: retrying cannot help.

    `rule_id` names the step that failed: a rule id, `variables.<name>`, `score`, `benefit` or
    `household` (a field missing or of the wrong type). The message never quotes household values,
    because they may be personal data and error messages end up in logs and dead-letter headers.
    `detail` keeps CEL's own message, which can quote values: it is for load-time checks against
    synthetic households, never for logs.
    """

    def __init__(self, program_id: str, rule_id: str, reason: str, detail: str = "") -> None:
        super().__init__(f"program {program_id!r}, {rule_id}: {reason}")
        self.program_id = program_id
        self.rule_id = rule_id
        self.reason = reason
        self.detail = detail
