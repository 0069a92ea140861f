"""The contract's rules as plain functions: no web framework, no database."""
