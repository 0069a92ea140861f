"""Whether outreach works and where things are heading: performance, trends and the
overview (endpoints, service, schemas; their SQL is the derived layer's, ``reengage.derived``)."""
