"""Reading CRM exports into canonical tables, masking personal data, the control group, the typed results between stages, the demo company."""
