"""Session events: recorded in the audit ledger first (fail closed), then fanned out live."""
