"""One package per workbook: goals, needs, channels, execution, review. Stages never import each other; they hand over typed results."""
