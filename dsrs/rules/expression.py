"""One CEL expression, compiled once and checked for the names and functions it may use.

`cel.compile` only parses: an unknown variable or function (even `__import__('os')`) compiles and
fails later, at evaluation. So the references CEL reports are checked here, at load time, against
the names a program declares and the CEL built-ins the engine supports.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import cel

# Native CEL functions that return plain values. The optional Python-backed extras (`cel.stdlib`)
# are never registered, so every call stays inside the CEL interpreter.
FUNCTIONS = frozenset(
    {"size", "int", "uint", "double", "string", "type", "dyn", "contains", "startsWith", "endsWith", "matches"}
)
# `type(x) == int` reports `int` as a variable reference.
TYPE_NAMES = frozenset({"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type"})
# The mappings expressions read field by field.
RECORDS = ("household", "params")

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# CEL reports the variable a macro binds (the `r` in `regions.exists(r, ...)`) as a reference.
_MACRO_BINDING = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,")


class ExpressionError(ValueError):
    """An expression does not parse, or refers to a name or function that does not exist."""


@dataclass(frozen=True)
class Expression:
    source: str
    # The declared names (variables, `household`, `params`, `score`) the expression refers to.
    names: frozenset[str]
    # The `household.<field>` and `params.<key>` attributes it reads; CEL reports only the record names.
    fields: frozenset[str]
    params: frozenset[str]
    # Converting a Python value into CEL costs more than most evaluations, so a record read only through
    # `.<attribute>` is passed with just those attributes.
    _projections: Mapping[str, frozenset[str]] = field(repr=False, compare=False)
    _program: cel.Program = field(repr=False, compare=False)
    # The names each evaluation gives: those read that are not constants.
    _inputs: frozenset[str] = field(repr=False, compare=False)
    # The constants it reads (a program's params), converted into CEL once: passed with every evaluation,
    # they would cost more than the evaluation itself. This CEL context keeps them, and asks `_values` for
    # the inputs. None when no constant is read: CEL asks for a name each time it is read, and converts it
    # each time, so a dict is quicker for those.
    _environment: cel.Context | None = field(repr=False, compare=False)
    # One evaluation's inputs at a time: evaluations run on the event loop's thread, one after another.
    _values: dict[str, object] = field(repr=False, compare=False)

    @classmethod
    def compile(
        cls, source: str, known_names: Collection[str], constants: Mapping[str, object] | None = None
    ) -> Expression:
        """`constants` are names whose values are fixed when the expression is compiled (a program's params)."""
        try:
            program = cel.compile(source)
        except (ValueError, TypeError) as error:
            raise ExpressionError(str(error)) from None
        references = program.references()
        bound = set(_MACRO_BINDING.findall(source))
        unknown = sorted(set(references["variables"]) - set(known_names) - bound - TYPE_NAMES)
        if unknown:
            raise ExpressionError(f"unknown name(s) {', '.join(unknown)}; known: {', '.join(sorted(known_names))}")
        functions = {name for name in references["functions"] if _IDENTIFIER.match(name)}
        unsupported = sorted(functions - FUNCTIONS)
        if unsupported:
            raise ExpressionError(
                f"unsupported function(s) {', '.join(unsupported)}; supported: {', '.join(sorted(FUNCTIONS))}"
            )
        names = frozenset(references["variables"]) & frozenset(known_names)
        attributes = {record: _attributes(source, record) for record in RECORDS}
        projections = {record: read for record, (read, whole) in attributes.items() if not whole and record in names}
        fixed = {name: value for name, value in (constants or {}).items() if name in names}
        values: dict[str, object] = {}
        environment = None
        if fixed:
            environment = cel.Context()
            for name, value in fixed.items():
                environment.add_variable(name, value)
            # Returning None lets CEL fall back to the constants; no input is ever None (facts and
            # variables are scalars, checked).
            environment.set_variable_resolver(values.get)
        return cls(
            source,
            names,
            attributes["household"][0],
            attributes["params"][0],
            projections,
            program,
            names - fixed.keys(),
            environment,
            values,
        )

    def evaluate(self, context: Mapping[str, object]) -> object:
        """The expression's value for `context`, which gives every name it reads but the constants."""
        values = self._values
        for name in self._inputs:
            value = context[name]
            read = self._projections.get(name)
            if read is not None and isinstance(value, dict):
                # A missing key stays missing, so CEL reports it as it would on the whole record.
                value = {key: value[key] for key in read if key in value}
            values[name] = value
        try:
            return self._program.execute(values if self._environment is None else self._environment)
        finally:
            values.clear()


def _attributes(source: str, record: str) -> tuple[frozenset[str], bool]:
    """The attributes `record.<name>` read in `source`, and whether `record` is also used whole."""
    read = re.findall(rf"\b{record}\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)", source)
    uses = len(re.findall(rf"\b{record}\b", source))
    return frozenset(read), uses > len(read)
