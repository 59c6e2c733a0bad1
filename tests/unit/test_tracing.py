from dsrs.monitoring.trace_context import child_traceparent, new_traceparent, trace_id


def test_a_child_stays_in_its_parents_trace() -> None:
    parent = new_traceparent()
    child = child_traceparent(parent)
    assert trace_id(child) == trace_id(parent)
    assert child != parent


def test_a_missing_or_broken_parent_starts_a_new_trace() -> None:
    assert trace_id(child_traceparent(None)) is not None
    assert trace_id(child_traceparent("garbage")) is not None
