"""The four analytics endpoints: risk metrics, the prioritized list, performance, trends."""
