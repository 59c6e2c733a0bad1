"""The roles a token may carry, and what each is for."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    REGISTRAR = "registrar"  # registers and updates households
    PROGRAM_OFFICER = "program_officer"  # acts on payments, deploys and retires programs
    AUDITOR = "auditor"  # reads everything, writes nothing
    ADMIN = "admin"  # dead letters and operations


ALL_ROLES = frozenset(Role)
# Personal data is read by the people who register, pay or audit households; not by operators.
READS_PERSONAL_DATA = frozenset({Role.REGISTRAR, Role.PROGRAM_OFFICER, Role.AUDITOR})
