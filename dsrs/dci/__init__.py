"""The DCI Social Registry API (Digital Convergence Initiative, v1.0.0): its message envelope, search by
identifier and by attribute expressions, subscriptions to the registry's household events, the notify
callbacks produced from those events, and transaction status. The HTTP routes are in dsrs.web.dci;
docs/dci.md says what is supported."""
