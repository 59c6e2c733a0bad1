"""The programs a worker decides and pays with: the current version of each, read from PostgreSQL in the
transaction that uses them, so that no batch decides under a version older than one already activated."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.programs.versions import ProgramVersion, compiled, current_versions
from dsrs.rules import Program


class ProgramCatalog:
    """Compiles each deployed content once (by its hash) and hands out the current programs."""

    def __init__(self) -> None:
        self._compiled: dict[str, Program] = {}
        self.current: dict[str, Program] = {}

    async def active(self, connection: AsyncConnection) -> Mapping[str, Program]:
        """Each program not retired, by id, in its newest activated version."""
        self.current = {version.program_id: self.program(version) for version in await current_versions(connection)}
        return self.current

    def program(self, version: ProgramVersion) -> Program:
        program = self._compiled.get(version.content_sha256)
        if program is None:
            origin = f"program {version.program_id} version {version.version}"
            program = self._compiled[version.content_sha256] = compiled(version.content, version.content_sha256, origin)
        return program
