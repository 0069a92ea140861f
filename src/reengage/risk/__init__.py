"""Who is drifting away: the risk metrics and the prioritized list (endpoints, service,
schemas; their SQL is the derived layer's, ``reengage.derived``)."""
