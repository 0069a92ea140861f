"""Staff dashboard: server-rendered pages and charts that work with no internet access."""
