"""Who receives what: groups, directed delivery, the situation cache and the client registry."""
