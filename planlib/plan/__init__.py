"""The plan file and its checks: the one typed schema, the KPI catalogue, YAML with line numbers, loading with `extends`."""
