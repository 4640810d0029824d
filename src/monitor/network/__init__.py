"""Network stages (#15): echoes of one statement across channels."""
