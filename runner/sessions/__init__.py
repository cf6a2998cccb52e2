"""Sessions: lifecycle, the live screen, input delivery, approvals and the policy gate."""
